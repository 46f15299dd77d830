"""The generated sentences of the book's chapters: one module per chapter, ``chapter_<file stem>``.

A sentence whose words depend on the numbers ("no sampler is rejected" / "2 of the 4 samplers are
rejected") is built by a pure function here, with doctest examples for every branch (all equal, none,
one, several, zero error, an interval that touches zero); tests/test_chapters.py runs them. The chapters
import the functions, call them on their numbers and glue the results, so a sentence that reads wrong
in some branch fails the suite before a reader meets it.
"""
