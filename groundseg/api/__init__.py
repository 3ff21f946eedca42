"""The operator API and the web console: FastAPI on uvicorn, served by the controller."""

from groundseg.api.access import ACCESS
from groundseg.api.app import create_app
from groundseg.api.context import ApiContext, ApiLimits, Commanding
from groundseg.api.desk import Desk, LiveDesk
from groundseg.api.server import ApiServer, ApiSettings
from groundseg.api.sessions import Sessions
from groundseg.api.stream import StreamHub
from groundseg.api.users import UserStore

__all__ = [
    "ACCESS",
    "ApiContext",
    "ApiLimits",
    "ApiServer",
    "ApiSettings",
    "Commanding",
    "Desk",
    "LiveDesk",
    "Sessions",
    "StreamHub",
    "UserStore",
    "create_app",
]
