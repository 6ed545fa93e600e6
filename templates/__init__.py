# templates/ is shipped inside the wheel as the data package report.templates (see pyproject.toml) and
# found through importlib.resources; it holds no Python.
