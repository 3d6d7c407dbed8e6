"""Readers, writers and validators for the file formats at igs's edges."""
