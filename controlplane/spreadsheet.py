"""Cells of the CSV files people open in a spreadsheet (the audit export, the report).

A spreadsheet runs a cell that starts with =, +, - or @ as a formula (a tab or a carriage
return first does too): a reason typed as `=HYPERLINK(...)`, or an operation name sent to
the metrics API, must stay text when an auditor opens the file. Such a cell gets a
leading apostrophe, which the spreadsheet shows as text and does not display. Numbers are
written as they are: only text is given to `text_cell`.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
