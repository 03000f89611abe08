from expenses.app import SPEC, ExpensesSettings
from servicekit.main import run

run(SPEC, ExpensesSettings())
