from notification.app import NotificationSettings, spec
from servicekit.main import run

settings = NotificationSettings()
run(spec(settings), settings)
