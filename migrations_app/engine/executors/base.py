"""What every executor shares: the failure it raises and the output it keeps."""

from collections import deque
from collections.abc import Callable

# The migration log keeps the end of a step's output; the rest went out live.
TAIL_LINES = 200
TAIL_CHARS = 16_000
LINE_CHARS = 2_000

LineSink = Callable[[str], None]


class StepFailed(Exception):
    """The step did not do what it should; `message` says what, for the operator."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.message = message
        self.output = output


class OutputTail:
    """The last lines of a step's output, bounded in lines and characters."""

    def __init__(self, lines: int = TAIL_LINES):
        self.lines: deque[str] = deque(maxlen=lines)

    def add(self, line: str) -> str:
        line = line.rstrip("\r\n")
        if len(line) > LINE_CHARS:
            line = line[:LINE_CHARS] + " [...]"
        self.lines.append(line)
        return line

    def text(self) -> str:
        text = "\n".join(self.lines)
        return text[-TAIL_CHARS:]


def ignore_line(line: str) -> None:
    return None
