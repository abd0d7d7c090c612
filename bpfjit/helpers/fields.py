"""Which map value's spin lock or timer a helper's pointer names, in every engine's
addresses (bpf_spin_lock and the bpf_timer helpers take a pointer to the field)."""

from __future__ import annotations

from ..errors import HelperArgumentError
from ..maps.fields import FIELDS_BY_ATTR

__all__ = ["value_field"]


def value_field(call, address: int, field: str) -> tuple:
    """(map, slot) whose `field` ("spin_lock" or "timer", a MapSpec attribute) is at
    `address` as the program sees addresses; HelperArgumentError otherwise."""
    cache = call.__dict__.setdefault("_fields", {})
    holders = cache.get(field)
    if holders is None:             # the maps with that field, found once per HelperCall
        holders = cache[field] = [(index, m, getattr(m.spec, field)) for index, m in
                                  enumerate(call.env.maps.list)
                                  if getattr(m.spec, field) is not None]
    memory = call.memory
    name = FIELDS_BY_ATTR[field].label
    for index, m, at in holders:
        offset = address - memory.map_address(index)
        if 0 <= offset < m.size:
            slot, within = divmod(offset, m.value_size)
            if within == at:
                return m, slot
            raise HelperArgumentError(f"{address:#x} is byte {within} of a value of map "
                                      f"{m.name!r}, whose {name} is at byte {at}")
    raise HelperArgumentError(f"{address:#x} is not the {name} of a map value")
