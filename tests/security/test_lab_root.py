"""The panel's idea of where lab filestores live is the lab's own (the renderer refuses a lab bind
mount outside it)."""

from django.conf import settings

from lab.api import BACKUP_ROOT, FILESTORE_ROOT


def test_the_panel_and_the_lab_agree_on_the_lab_filestore_root() -> None:
    assert str(FILESTORE_ROOT) == settings.LAB_FILESTORE_ROOT


def test_the_panel_and_the_lab_agree_on_the_lab_backup_root() -> None:
    assert str(BACKUP_ROOT) == settings.LAB_BACKUP_ROOT
