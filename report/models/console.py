"""dbt-like progress lines: `3 of 14 OK created sql table model fct_x ........ [OK 12 rows in 0.05s]`."""

LINE_WIDTH = 80


def progress_line(index: int, count: int, text: str, status: str) -> str:
    head = f"{index} of {count} {text} "
    return f"{head}{'.' * max(3, LINE_WIDTH - len(head))} [{status}]"
