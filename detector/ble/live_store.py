"""Session observer that puts each cramp episode in the episode store as soon as it ends."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from detector.episode import EpisodeEnded, EpisodeEvent
from detector.errors import CrampError
from detector.signals import SignalBlock

if TYPE_CHECKING:
    from detector.ble.link import BandSessionBase
    from detector.ble.session_types import SessionSnapshot


class LiveStore:
    """Stores the night so far whenever an episode ends.

    The night is identified by the capture path and start time; the final save at the end of
    the night (with the closed capture's SHA-256) updates the same night. A store that cannot
    be written is reported on stderr and does not stop the recording: the capture still holds
    everything.

    Parameters
    ----------
    session : BandSessionBase
        The session whose :meth:`~BandSessionBase.partial_result` is stored.
    db_path : Path
        Episode store file.
    timezone : str, optional
        IANA zone for the night date.
    """

    def __init__(self, session: BandSessionBase, *, db_path: Path,
                 timezone: str | None) -> None:
        self.session = session
        self.db_path = db_path
        self.timezone = timezone
        self.saved = 0

    def on_episode(self, event: EpisodeEvent, *, start_utc: datetime) -> None:
        """Store the night when an episode has ended."""
        if not isinstance(event, EpisodeEnded):
            return
        from detector.store import save_night

        result = self.session.partial_result()
        if result is None:
            return
        try:
            save_night(result, db_path=self.db_path, timezone=self.timezone)
        except CrampError as exc:
            print(f"cramp: could not store the episode yet ({exc}); the capture keeps it",
                  file=sys.stderr)
            return
        self.saved += 1

    def on_block(self, role: str, block: SignalBlock) -> None:
        """Nothing to do per block."""

    def on_status(self, snapshot: SessionSnapshot) -> None:
        """Nothing to do on status."""

    def on_note(self, text: str) -> None:
        """Nothing to do on notes."""
