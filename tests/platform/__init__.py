"""Tests of the platform package: embedded runtime and shared test fixtures."""
