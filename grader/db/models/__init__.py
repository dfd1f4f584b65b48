"""The schema: people and courses, uploads, grading runs and their scores, manual grades, regrades,
similarity runs.

A submission's score is never stored on the submission: it is read from its grading runs (one
row per attempt, each naming the rubric hash that produced it) plus manual grades, so a regrade
adds runs and history is kept. Each run stores its per-question results and each test case
(TestResult: passed or failed, with its share of the question's points), so a changed score can
be traced to the cases behind it. A failed case's wrong answers are kept too (AnswerSignature),
so equal wrong answers of many students can be found and answered at once (GroupFeedback).
"""


from grader.db.models.analysis import AnswerSignature, GroupFeedback, SimilarityPair, SimilarityRun, SimilarityStatus
from grader.db.models.courses import (
    Assignment,
    ChosenSubmission,
    CountingRule,
    Course,
    CourseRole,
    Device,
    Enrolment,
    Extension,
    LatePolicy,
    RubricVersion,
)
from grader.db.models.grading import (
    GradingRun,
    ManualGrade,
    QuestionScore,
    RegradeBatch,
    RegradeItem,
    RegradeItemStatus,
    RunStatus,
    Submission,
    SubmissionStatus,
    TestResult,
)
from grader.db.models.people import ApiToken, Invitation, Role, User

# One import path for every model: importing the package registers every table on Base.metadata
# (Alembic's env.py relies on it), whichever module a model lives in.
__all__ = [
    "Role",
    "User",
    "ApiToken",
    "Invitation",
    "CourseRole",
    "LatePolicy",
    "CountingRule",
    "Device",
    "Course",
    "Enrolment",
    "RubricVersion",
    "Assignment",
    "Extension",
    "ChosenSubmission",
    "SubmissionStatus",
    "RunStatus",
    "RegradeItemStatus",
    "Submission",
    "GradingRun",
    "QuestionScore",
    "TestResult",
    "ManualGrade",
    "RegradeBatch",
    "RegradeItem",
    "SimilarityStatus",
    "AnswerSignature",
    "GroupFeedback",
    "SimilarityRun",
    "SimilarityPair",
]
