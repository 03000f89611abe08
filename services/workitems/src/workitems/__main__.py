from servicekit.main import run
from workitems.app import WorkitemsSettings, spec

settings = WorkitemsSettings()
run(spec(settings), settings)
