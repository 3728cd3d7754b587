"""Pluggable solvers: each turns a take's footage (or a motion file) into MoveMotion per actor."""
