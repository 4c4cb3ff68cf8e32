"""lessons.release: the student copy has every marked solution cut out, nothing else."""
import pytest

from lessons.release import MarkerError, strip_solutions

SOURCE = '''def f(x):
    """Doc."""
    ### BEGIN SOLUTION 6.1
    y = x * 2
    return y
    ### END SOLUTION


class A:
    def g(self):
        ### BEGIN SOLUTION 6b.1
        return 1
        ### END SOLUTION
'''


def test_marked_regions_become_not_implemented_at_their_indentation():
    text, ids = strip_solutions(SOURCE)
    assert ids == ["6.1", "6b.1"]
    assert text == '''def f(x):
    """Doc."""
    raise NotImplementedError("Exercise 6.1")


class A:
    def g(self):
        raise NotImplementedError("Exercise 6b.1")
'''
    assert "SOLUTION" not in text and "x * 2" not in text and "return 1" not in text
    compile(text, "<release>", "exec")


@pytest.mark.parametrize("bad, message", [
    ("### BEGIN SOLUTION 1.1\nx\n", "no END SOLUTION"),
    ("x\n### END SOLUTION\n", "END SOLUTION without BEGIN"),
    ("### BEGIN SOLUTION 1.1\n### BEGIN SOLUTION 1.2\n### END SOLUTION\n", "inside exercise 1.1"),
    ("### BEGIN SOLUTION\nx\n### END SOLUTION\n", "malformed marker"),
])
def test_broken_markers_are_refused(bad, message):
    with pytest.raises(MarkerError, match=message):
        strip_solutions(bad, "f.py")
