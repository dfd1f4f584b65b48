"""Autograder for deep-learning courses: rubrics run in a trusted process, student code in a sandbox."""
