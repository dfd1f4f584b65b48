"""Who is in a course: enrolling one person, importing a CSV roster, dropping someone, reading the
roster a page at a time.

Accounts that do not exist yet are created (without a password). An import is all or nothing:
every bad line is reported, naming the line, and nothing is stored unless every line is good (the
caller commits once). Importing the same file again changes nothing. A blank role enrols a new
person as a student and leaves an existing enrolment's role alone, so a re-import of a roster
without roles (Canvas's) never demotes a TA. Dropping someone ends their access; their
submissions stay.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from typing import Literal

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from grader.db.models import Course, CourseRole, Enrolment, User
from grader.services import invitations, users
from grader.services.courses import require_open
from grader.services.errors import NotFound, Rejected
from grader.services.permissions import require_change_settings, require_view_all
from grader.services.spreadsheet import cell_value

PLAIN_COLUMNS = ("email", "name", "role")
# Canvas matches rows on these columns: the import keeps them on each enrolment, and the gradebook
# export writes them back (without them, "SIS Login ID" carries the email).
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
# The rows of Canvas's export that are no one's, by the label that is their first filled cell: in
# the Student column, or under the assignments in the manual-posting row (whose ids are blank).
CANVAS_NOT_STUDENTS = {"Points Possible": "Canvas's points-possible row",
                       "Manual Posting": "Canvas's manual-posting row", "Student, Test": "Canvas's test student"}
ACCOUNT_ROLE = {CourseRole.student: "student", CourseRole.ta: "student", CourseRole.instructor: "instructor"}
ERRORS_SHOWN = 20
# A course has a few thousand people at most: a roster this size is imported with one query per
# look-up, each well under PostgreSQL's 65,535 parameters (and SQLite's 32,766).
MAX_ROSTER = 10_000
ROSTER_PAGE = 50


@dataclass(frozen=True)
class Identity:
    """A student's ids in the university's systems (Canvas, the SIS), kept for the gradebook export."""

    canvas_id: str | None = None
    sis_user_id: str | None = None
    sis_login_id: str | None = None
    section: str | None = None


IDENTITY_LIMITS = {"canvas_id": 50, "sis_user_id": 100, "sis_login_id": 100, "section": 200}  # column lengths


@dataclass(frozen=True)
class Entry:
    """One person to enrol: `role` None keeps an existing enrolment's role (a new one: student);
    `ids` None keeps an existing enrolment's identities."""

    line: int
    email: str
    name: str
    role: CourseRole | None
    ids: Identity | None


@dataclass(frozen=True)
class ImportResult:
    accounts_created: int
    enrolled: int
    changed: int  # role or identities changed
    unchanged: int
    skipped: list[str]  # lines that are not people (Canvas's points-possible and manual-posting rows, its test student)


def _role(text: str) -> CourseRole | None:
    text = text.strip().lower()
    if not text:
        return None
    if text not in CourseRole.__members__:
        raise Rejected(422, f"the role is one of {', '.join(CourseRole)}, not {text!r}")
    return CourseRole(text)


def _cell(row: dict[str, str], column: str) -> str:
    value = cell_value(row.get(column) or "").strip()  # `grader roster --csv` quotes "-jo@uni.edu"
    if "\0" in value:
        raise Rejected(422, f"the {column} cell holds a NUL character")
    return value


def _identity(row: dict[str, str]) -> Identity:
    values = dict(zip(IDENTITY_LIMITS, (_cell(row, c) for c in ("ID", "SIS User ID", "SIS Login ID", "Section")),
                      strict=True))
    for name, value in values.items():
        if len(value) > IDENTITY_LIMITS[name]:
            raise Rejected(422, f"{name} has at most {IDENTITY_LIMITS[name]} characters, not {len(value)}")
    return Identity(**{name: value or None for name, value in values.items()})


def _entry(line: int, email: str, name: str, role: CourseRole | None, ids: Identity | None) -> Entry:
    if not email:
        raise Rejected(422, "no email address")
    name = users.valid_name(name)
    return Entry(line, users.valid_email(email), name, role, ids)


def _canvas_email(login: str, login_domain: str | None) -> str:
    if not login:
        raise Rejected(422, "no SIS Login ID")
    if "@" in login or not login_domain:
        return login
    return f"{login}@{login_domain.lstrip('@')}"


def _format(header: list[str], line: int) -> Literal["plain", "canvas"]:
    if "Student" in header and "SIS Login ID" in header:
        return "canvas"
    if "email" in [cell.lower() for cell in header]:
        unknown = [cell for cell in header if cell.lower() not in PLAIN_COLUMNS]
        if unknown:
            raise Rejected(422, f"line {line}: unknown column {unknown[0]!r}: a roster has the columns "
                                f"{','.join(PLAIN_COLUMNS)} (name and role may be left out)")
        return "plain"
    raise Rejected(422, f"line {line}: a roster starts with the header {','.join(PLAIN_COLUMNS)} or with "
                        f"Canvas's {','.join(CANVAS_COLUMNS)}, not {','.join(header)[:200]!r}")


def _canvas_entry(line: int, row: dict[str, str], login_domain: str | None) -> Entry | str:
    """The student a row of Canvas's export names, or why the row names no one."""
    label = next((cell.strip() for cell in row.values() if cell.strip()), "")
    if label in CANVAS_NOT_STUDENTS:
        return CANVAS_NOT_STUDENTS[label]
    return _entry(line, _canvas_email(_cell(row, "SIS Login ID"), login_domain), _cell(row, "Student"), None,
                  _identity(row))


def _plain_entry(line: int, row: dict[str, str]) -> Entry:
    return _entry(line, _cell(row, "email"), _cell(row, "name"), _role(_cell(row, "role")), None)


def parse_roster(data: bytes, login_domain: str | None = None) -> tuple[list[Entry], list[str]]:
    """The people a CSV roster names, and the lines skipped as not people. Rejected (422) lists
    every bad line. `login_domain` turns a Canvas SIS Login ID that is not an email into one."""
    try:
        text = data.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError:
        raise Rejected(422, "the roster is not UTF-8 text: save it as \"CSV UTF-8\"") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    entries: list[Entry] = []
    skipped: list[str] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            line = reader.line_num
            if header is None:
                header = [cell.strip() for cell in cells]
                kind = _format(header, line)
                continue
            if kind == "plain" and len(cells) > len(header):
                errors.append(f"line {line}: {len(cells)} cells, but the header names {len(header)} columns")
                continue
            row = dict(zip([h if kind == "canvas" else h.lower() for h in header], cells, strict=False))
            try:
                entry = _canvas_entry(line, row, login_domain) if kind == "canvas" else _plain_entry(line, row)
            except Rejected as exc:
                errors.append(f"line {line}: {exc.message}")
                continue
            if isinstance(entry, str):
                skipped.append(f"line {line}: {entry}")
                continue
            if entry.email in seen:
                errors.append(f"line {line}: {entry.email} is already on line {seen[entry.email]}")
                continue
            seen[entry.email] = line
            entries.append(entry)
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: not CSV: {exc}")
    if errors:
        more = f"\n... and {len(errors) - ERRORS_SHOWN} more" if len(errors) > ERRORS_SHOWN else ""
        raise Rejected(422, f"{len(errors)} bad line(s) in the roster, nothing was imported:\n"
                            + "\n".join(errors[:ERRORS_SHOWN]) + more)
    if not entries:
        raise Rejected(422, "the roster names nobody")
    if len(entries) > MAX_ROSTER:
        raise Rejected(422, f"a roster names at most {MAX_ROSTER:,} people, not {len(entries):,}")
    return entries, skipped


def _enrol_entries(db: Session, actor: User, course: Course, entries: list[Entry],
                   skipped: list[str]) -> tuple[ImportResult, list[Enrolment]]:
    """Create the missing accounts, then enrol everyone or update their enrolment; flushed."""
    known = {user.email: user for user in db.scalars(select(User).where(User.email.in_([e.email for e in entries])))}
    created = [users.new_user(e.email, e.name, ACCOUNT_ROLE[e.role or CourseRole.student])
               for e in entries if e.email not in known]
    existing = [user.id for user in known.values()]
    db.add_all(created)
    db.flush()  # one batch of INSERTs, and the new accounts get their ids
    known.update((user.email, user) for user in created)
    current = {e.user_id: e for e in db.scalars(select(Enrolment).where(
        Enrolment.course_id == course.id, Enrolment.user_id.in_([user.id for user in known.values()])))}
    counts = {"enrolled": 0, "changed": 0, "unchanged": 0}
    enrolments = []
    invitations.end_links(db, [user_id for user_id in existing if user_id not in current])  # joining a course
    for entry in entries:
        user = known[entry.email]
        enrolment = current.get(user.id)
        if enrolment is None:
            enrolment = Enrolment(course_id=course.id, user=user, role=entry.role or CourseRole.student)
            db.add(enrolment)
            counts["enrolled"] += 1
            before = None
        else:
            before = (enrolment.role, _identity_of(enrolment))
        if entry.role is not None and entry.role != enrolment.role:
            if user.id == actor.id:
                where = f"line {entry.line}: " if entry.line else ""
                raise Rejected(409, f"{where}that is you: your own role stays {enrolment.role} "
                                    "(another instructor or an admin can change it)")
            enrolment.role = entry.role
        if entry.ids is not None:
            for field in fields(Identity):
                setattr(enrolment, field.name, getattr(entry.ids, field.name))
        if before is not None:
            counts["changed" if before != (enrolment.role, _identity_of(enrolment)) else "unchanged"] += 1
        enrolments.append(enrolment)
    db.flush()
    return ImportResult(len(created), skipped=skipped, **counts), enrolments


def _identity_of(enrolment: Enrolment) -> Identity:
    return Identity(*(getattr(enrolment, field.name) for field in fields(Identity)))


def import_roster(db: Session, actor: User, course: Course, data: bytes,
                  login_domain: str | None = None) -> ImportResult:
    """Enrol everyone a CSV roster names: `email,name,role`, or Canvas's roster columns."""
    require_change_settings(db, actor, course)
    require_open(course)
    entries, skipped = parse_roster(data, login_domain)
    return _enrol_entries(db, actor, course, entries, skipped)[0]


def enrol(db: Session, actor: User, course: Course, email: str, role: str, name: str = "") -> Enrolment:
    """Enrol one person (creating the account if there is none), or change their role."""
    require_change_settings(db, actor, course)
    require_open(course)
    entry = _entry(0, email.strip(), name.strip(), _role(role) or CourseRole.student, None)
    return _enrol_entries(db, actor, course, [entry], [])[1][0]


def drop(db: Session, actor: User, course: Course, user_id: int) -> None:
    """End someone's enrolment; their submissions and grades stay (and come back if re-enrolled)."""
    require_change_settings(db, actor, course)
    require_open(course)
    enrolment = db.scalar(select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.user_id == user_id))
    if enrolment is None:
        raise NotFound(f"user {user_id} is not enrolled in {course.code}")
    if user_id == actor.id:
        raise Rejected(409, "you cannot drop yourself (another instructor or an admin can)")
    db.delete(enrolment)
    db.flush()


@dataclass(frozen=True)
class RosterPage:
    enrolments: list[Enrolment]  # each with its user loaded
    total: int  # matching the search, over all pages
    offset: int
    limit: int

    @property
    def pages(self) -> int:
        """Pages of `limit` people the search fills, at least 1."""
        return max(1, -(-self.total // self.limit))


def roster(db: Session, viewer: User, course: Course, offset: int = 0, limit: int = ROSTER_PAGE,
           search: str = "") -> RosterPage:
    """The course's people, staff first, then by name; `search` matches a part of a name or an email."""
    require_view_all(db, viewer, course)
    matching = select(Enrolment).join(Enrolment.user).where(Enrolment.course_id == course.id)
    if search.strip():
        term = search.strip()
        matching = matching.where(or_(User.name.icontains(term, autoescape=True),
                                      User.email.icontains(term, autoescape=True)))
    total = db.scalar(select(func.count()).select_from(matching.subquery())) or 0
    staff_first = case((Enrolment.role == CourseRole.instructor, 0), (Enrolment.role == CourseRole.ta, 1), else_=2)
    page = db.scalars(matching.options(contains_eager(Enrolment.user))
                      .order_by(staff_first, User.name, User.email).offset(offset).limit(limit))
    return RosterPage(list(page), total, offset, limit)


def role_counts(db: Session, course: Course) -> dict[CourseRole, int]:
    rows = db.execute(select(Enrolment.role, func.count()).where(Enrolment.course_id == course.id)
                      .group_by(Enrolment.role))
    return {role: count for role, count in rows}
