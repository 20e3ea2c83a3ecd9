"""Tests of the Sopel and Limnoria compat plugins."""
