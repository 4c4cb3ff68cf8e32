"""A lesson states each exercise before it shows code equal to the answer.

A student who meets the library's solution (``inspect.getsource``) or a worked cell that
computes the same thing before the exercise is set can only transcribe it. Each lesson that
teaches exercise X must name ``--exercise X`` (the statement and its grading command) above
any such cell.
"""
import re

import pytest
from lessons.exercises import EXERCISES
from tests.paths import REPO

# exercise -> text that starts a worked cell equal to its answer, in the lesson that teaches it
WORKED_CELLS = {"6b.1": "def adam_by_hand(", "8.1": "for k, s in reversed(layers):"}


def lesson_file(exercise_id):
    """lessons/<NN>_*.py of the lesson named in EXERCISES ("lesson 6b, ..." -> 06b_*.py)."""
    number, suffix = re.match(r"lesson (\d+)(\w*)", EXERCISES[exercise_id].lesson).groups()
    (path,) = (REPO / "lessons").glob(f"{int(number):02d}{suffix}_*.py")
    return path


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_exercise_is_set_before_its_answer_is_shown(exercise_id):
    text = lesson_file(exercise_id).read_text()
    statement = text.find(f"--exercise {exercise_id}")
    assert statement >= 0, f"{lesson_file(exercise_id).name} never names --exercise {exercise_id}"
    reference_name = EXERCISES[exercise_id].reference.split(":")[1]
    answers = [m.start() for m in re.finditer(rf"getsource\({reference_name}\b", text)]
    if exercise_id in WORKED_CELLS:
        assert WORKED_CELLS[exercise_id] in text, f"worked cell of {exercise_id} not found"
        answers.append(text.index(WORKED_CELLS[exercise_id]))
    for position in answers:
        assert statement < position, (
            f"{lesson_file(exercise_id).name} shows the answer to {exercise_id} (character "
            f"{position}) before it sets the exercise (character {statement})")
