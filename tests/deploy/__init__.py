"""Tests of deploy/: the image, the compose stack and the database init script, offline."""
