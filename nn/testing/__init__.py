"""Test helpers shipped with the library: the strict CuPy stand-in (strict_cupy.py)."""
