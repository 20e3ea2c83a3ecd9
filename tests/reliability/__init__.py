"""Reliability tests: faults ntrbot must survive (IRC restarts, kills, bad SoundCloud, fuzz)."""
