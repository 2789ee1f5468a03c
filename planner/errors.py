"""The one exception tree of the package; the CLI maps each class to an exit code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one input: where it is, what is wrong, and how to fix it."""

    file: str
    path: str
    message: str
    hint: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{where}:{field} {self.message}{hint}"


class PlannerError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = 1


class InputError(PlannerError):
    """Bad input or usage: one or more problems, each with its location (exit code 2)."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InfeasibleError(PlannerError):
    """The scenario cannot be satisfied; carries a diagnosis of what is short (exit code 3)."""

    exit_code = 3

    def __init__(self, message: str, diagnosis: list[str] | None = None,
                 details: object | None = None) -> None:
        self.diagnosis = list(diagnosis or [])
        self.details = details
        text = message + "".join(f"\n  - {line}" for line in self.diagnosis)
        super().__init__(text)


class SolverError(PlannerError):
    """The solver failed or ran out of time without a solution (exit code 4)."""

    exit_code = 4
