from django import template

from panel.notify.forms import masked_url as _masked_url
from panel.notify.models import Channel

register = template.Library()


@register.filter
def masked_url(channel: Channel) -> str:
    return _masked_url(channel)
