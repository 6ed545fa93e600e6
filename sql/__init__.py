# sql/ is shipped inside the wheel as the data package report.sql (see pyproject.toml) and found through
# importlib.resources; it holds no Python. The models, tests and macros are the .sql files below.
