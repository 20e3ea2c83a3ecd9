"""Announcing out: the message, the one announce path, delivery tracking, outputs."""
