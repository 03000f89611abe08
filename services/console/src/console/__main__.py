from console.app import SPEC, ConsoleSettings
from servicekit.main import run

run(SPEC, ConsoleSettings())
