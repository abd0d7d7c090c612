"""Differential fuzzing of the engines against the interpreter, and hostile input."""
