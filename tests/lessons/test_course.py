"""lessons/COURSE.md, the ten-week plan: every lesson and every graded exercise in exactly one
week, no exercise before its lesson or before what it needs, hours that add up, and every
written question with an answer note in lessons/instructors/ANSWERS.md, which the student
release leaves out while it ships the plan."""
import re
from collections import Counter

from lessons.exercises import EXERCISES, POINTS
from lessons.instructors.needs import with_stubs
from tests.lessons.test_release import release  # noqa: F401  (the built release, a fixture)
from tests.paths import REPO

COURSE = (REPO / "lessons" / "COURSE.md").read_text()
ANSWERS = (REPO / "lessons" / "instructors" / "ANSWERS.md").read_text()
# Lesson ids as the files name them: "01" .. "12" and "06b".
LESSONS = sorted(p.name.split("_")[0] for p in (REPO / "lessons").glob("[0-9][0-9]*_*.py"))
QUESTION = re.compile(r"\bQ(\d\db?)\.(\d+)\b")


def table(text, header):
    """The markdown table whose header line starts with ``header``: a list of rows, each a
    {header cell: cell} dict."""
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(header)))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[2:]]     # rows[1] is the | --- | line


def ids(cell):
    """'1.2, 2.1' or '06b, 07' -> ['1.2', '2.1'] or ['06b', '07']; '-' -> []."""
    return [] if cell.strip() == "-" else [part.strip() for part in cell.split(",")]


def hours(cell):
    return float(cell)


WEEKS = table(COURSE, "| week |")
LESSON_ROWS = {row["lesson"]: row for row in table(COURSE, "| lesson | file |")}
EXERCISE_ROWS = {row["exercise"]: row for row in table(COURSE, "| exercise |")}
LESSON_RUNS = table(COURSE, "| lesson | runs")
WEEK_OF_LESSON = {lesson: int(w["week"]) for w in WEEKS for lesson in ids(w["lessons"])}
WEEK_OF_EXERCISE = {e: int(w["week"]) for w in WEEKS for e in ids(w["graded exercises"])}


def lesson_of(exercise_id):
    """The lesson that introduces an exercise, from the registry ("lesson 6b, ..." -> "06b")."""
    number = re.match(r"lesson (\d+b?)\b", EXERCISES[exercise_id].lesson).group(1)
    return number.zfill(3 if number.endswith("b") else 2)


def test_ten_weeks():
    assert [w["week"] for w in WEEKS] == [str(n) for n in range(1, 11)]


def test_every_lesson_file_is_in_exactly_one_week():
    listed = Counter(lesson for w in WEEKS for lesson in ids(w["lessons"]))
    assert sorted(listed) == LESSONS, "the weeks must list every lesson file, and no other"
    assert all(n == 1 for n in listed.values()), f"listed more than once: {listed}"
    assert sorted(LESSON_ROWS) == LESSONS
    assert sorted(row["lesson"] for row in LESSON_RUNS) == LESSONS
    for row in LESSON_RUNS:
        called = ids(row["runs to the end in your copy once these are written"])
        assert set(called) <= set(EXERCISES), f"lesson {row['lesson']}: {called}"
    for lesson, row in LESSON_ROWS.items():
        assert (REPO / "lessons" / row["file"].strip("`")).name.startswith(f"{lesson}_")
        assert (REPO / "lessons" / row["file"].strip("`")).is_file()


def test_every_exercise_is_in_exactly_one_week():
    listed = Counter(e for w in WEEKS for e in ids(w["graded exercises"]))
    assert sorted(listed) == sorted(EXERCISES), "the weeks must list every graded exercise"
    assert all(n == 1 for n in listed.values()), f"listed more than once: {listed}"
    assert sorted(EXERCISE_ROWS) == sorted(EXERCISES)
    assert {e: int(row["points"]) for e, row in EXERCISE_ROWS.items()} == POINTS


def test_no_exercise_comes_before_its_lesson_or_what_it_needs():
    late = []
    for exercise_id, row in EXERCISE_ROWS.items():
        assert row["lesson"] == lesson_of(exercise_id), f"{exercise_id}: not the registry's lesson"
        needed = [("lesson", lesson_of(exercise_id), WEEK_OF_LESSON)]
        needed += [("exercise", e, WEEK_OF_EXERCISE) for e in ids(row["needs exercises"])]
        needed += [("lesson", n, WEEK_OF_LESSON) for n in ids(row["needs lessons"])]
        week = WEEK_OF_EXERCISE.get(exercise_id)
        if week is None:
            late.append(f"{exercise_id} is in no week")
            continue
        for kind, name, weeks in needed:
            if name not in weeks:
                late.append(f"{exercise_id} needs {kind} {name}, which is in no week")
            elif weeks[name] > week:
                late.append(f"{exercise_id} (week {week}) needs {kind} {name} (week "
                            f"{weeks[name]})")
    assert not late, "\n".join(late)


def questions(text):
    """['01.1', '01.2', ...]: the written questions' numbers, in order of appearance."""
    return [f"{lesson}.{n}" for lesson, n in QUESTION.findall(text)]


def test_two_to_four_written_questions_per_lesson():
    asked = Counter(q.split(".")[0] for q in set(questions(COURSE)))
    assert sorted(asked) == LESSONS
    for lesson, count in asked.items():
        assert 2 <= count <= 4, f"lesson {lesson}: {count} written questions"
        assert int(LESSON_ROWS[lesson]["questions"]) == count, f"lesson {lesson}'s count"


def test_week_hours_add_up():
    for w in WEEKS:
        lessons, exercises = ids(w["lessons"]), ids(w["graded exercises"])
        assert hours(w["reading h"]) == sum(hours(LESSON_ROWS[n]["reading h"]) for n in lessons)
        assert hours(w["exercises h"]) == sum(hours(EXERCISE_ROWS[e]["hours"]) for e in exercises)
        assert hours(w["questions h"]) == 0.25 * sum(int(LESSON_ROWS[n]["questions"])
                                                     for n in lessons)
        parts = ("reading h", "exercises h", "questions h")
        assert hours(w["total h"]) == sum(hours(w[p]) for p in parts), f"week {w['week']}"


def notes(text):
    """{question number: its answer note}: every '### Qnn.m' heading and the text under it."""
    pieces = re.split(r"^### Q(\d\db?\.\d+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(pieces[1::2], (p.split("\n## ")[0].strip() for p in pieces[2::2])))


def test_every_written_question_has_an_answer_note_that_points_into_the_lesson():
    asked, answered = questions(COURSE), notes(ANSWERS)
    assert len(asked) == len(set(asked)), "a question number is used twice"
    assert sorted(answered) == sorted(asked), "answer notes and questions must match one to one"
    for number, note in answered.items():
        assert "section" in note.lower(), f"Q{number}'s note names no lesson section"


def test_the_course_plan_holds_no_answer():
    """No run of ten words from an answer note appears in COURSE.md."""
    course = " ".join(COURSE.split())
    for number, note in notes(ANSWERS).items():
        words = note.split()
        for i in range(len(words) - 9):
            assert " ".join(words[i:i + 10]) not in course, f"Q{number}'s note is in COURSE.md"


def test_a_release_ships_the_course_but_not_the_answers(release):  # noqa: F811
    dest, _ = release
    assert (dest / "lessons" / "COURSE.md").read_text() == COURSE
    assert not (dest / "lessons" / "instructors").exists()
    assert not any("ANSWERS" in p.name for p in dest.rglob("*"))
    assert not (dest / "tests" / "lessons" / "test_course.py").exists()


def test_the_needs_measurement_cuts_out_one_exercise_only():
    """lessons/instructors/needs.py measures the "needs exercises" column: its copy of a
    library file must hold one stub, the other solutions, and the release's routes."""
    conv = with_stubs("nn/ops/conv.py", {"3.3"})
    assert conv.count("raise NotImplementedError") == 1         # 3.2 and 4.1 stay solved
    assert 'raise NotImplementedError("Exercise 3.3")' in conv
    assert "### " not in conv
    compile(conv, "conv.py", "exec")
    im2col = with_stubs("nn/ops/im2col.py", {"3.1"})
    assert 'raise NotImplementedError("Exercise 3.1")' in im2col
    assert "im2col = im2col_reference" in im2col
