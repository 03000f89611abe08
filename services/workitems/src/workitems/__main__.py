from servicekit.main import run
from workitems.app import SPEC, WorkitemsSettings

run(SPEC, WorkitemsSettings())
