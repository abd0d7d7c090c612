"""The zone's floors a + b >= c and wrapped 32-bit adds, step by step: how floors move
with their variables, pass to a variable that still holds the value, and meet at joins
and widenings; when a wrapped add is forgotten.

Variables are plain numbers here (registers 0-9); each expected floor is worked out by
hand from the rule in the docstring of bpfjit.verifier.zone.
"""

from bpfjit.verifier.zone import Zone
from bpfjit.verifier.zonejoin import join_zones, widen_zone

A, B, C, X = 4, 5, 6, 2


def no_intervals(_var):
    return None


def test_a_floor_is_symmetric_and_keeps_the_strongest():
    z = Zone()
    z.learn_floor(B, A, -3)
    z.learn_floor(A, B, 0)
    z.learn_floor(A, B, -7)              # weaker: ignored
    assert z.floor(A, B) == z.floor(B, A) == 0


def test_a_floor_moves_by_the_least_step_of_its_variable():
    z = Zone()
    z.learn_floor(A, B, 0)
    z.shift(A, -1, -1)                   # a -= 1: a + b >= -1
    assert z.floor(A, B) == -1
    z.shift(B, -2, 3)                    # b += d, d in [-2, 3]: a + b >= -3
    assert z.floor(A, B) == -3
    z.shift(A, None, 0)                  # a falls by any amount: nothing is left
    assert z.floor(A, B) is None


def test_a_copy_inherits_the_floor_shifted_by_its_offset():
    z = Zone()
    z.learn_floor(A, B, 2)
    z.assign(C, A, -4)                   # c = a - 4: c + b >= -2
    assert z.floor(C, B) == -2 and z.floor(A, B) == 2


def test_a_forgotten_variable_passes_its_floor_to_one_that_holds_its_value():
    z = Zone()
    z.assign(A, C, -4)                   # a = c - 4
    z.learn_floor(A, B, 0)               # a + b >= 0, so c + b >= 4
    z.forget(A)
    assert z.floor(A, B) is None
    assert z.floor(C, B) == 4


def test_a_sum_record_follows_constant_moves_and_dies_with_a_variable_one():
    z = Zone()
    z.plus[X] = (A, B, 0)                # x == a + b
    z.shift(X, 1, 1)                     # x == a + b + 1
    z.shift(A, -1, -1)                   # a fell by 1: x == a + b + 2
    assert z.plus[X] == (A, B, 2)
    z.shift(B, 0, 1)
    assert X not in z.plus


def test_a_join_keeps_the_least_floor_and_takes_a_missing_one_from_intervals():
    left, right = Zone(), Zone()
    left.learn_floor(A, B, 0)
    right.learn_floor(A, B, 3)
    joined = join_zones([left, right], [lambda x, y: None] * 2, lambda x, y: None,
                        [no_intervals, no_intervals])
    assert joined.floor(A, B) == 0
    # a path without the floor but with a >= 5, b >= -1 gives 4; the other has 2
    bounded = {A: 5, B: -1}.get
    joined = join_zones([Zone(), _with_floor(2)], [lambda x, y: None] * 2,
                        lambda x, y: None, [bounded, no_intervals])
    assert joined.floor(A, B) == 2
    # a path with neither: no floor
    joined = join_zones([Zone(), _with_floor(2)], [lambda x, y: None] * 2,
                        lambda x, y: None, [no_intervals, no_intervals])
    assert joined.floor(A, B) is None


def test_a_widening_keeps_a_floor_only_while_it_does_not_fall():
    old = _with_floor(0)
    assert widen_zone(old, _with_floor(1), lambda x, y: None,
                      [no_intervals, no_intervals]).floor(A, B) == 0
    assert widen_zone(old, _with_floor(-1), lambda x, y: None,
                      [no_intervals, no_intervals]).floor(A, B) is None


def test_a_late_widening_adds_no_floor_the_old_state_lacked():
    # the old state has no floor; the new one has a + b >= 0, which the old state's
    # intervals (a >= 0, b >= 0) imply too.  A widening that still discovers relations
    # (given the old intervals' bounds, `implied_old`) takes it: a loop's exit test
    # that says it on the way round.  A late one (none given: the head has been joined
    # UNRELATE_AFTER times) does not, or a floor that the loop's body weakens below what
    # the intervals imply and the next join rebuilds from them comes and goes for ever
    # (a Horspool search's inner loop: 400,000 instruction visits, then "too complex")
    at_least_zero = {A: 0, B: 0}.get
    early = widen_zone(Zone(), _with_floor(0), lambda x, y: None,
                       [at_least_zero, no_intervals], implied_old=lambda x, y: None)
    assert early.floor(A, B) == 0
    late = widen_zone(Zone(), _with_floor(0), lambda x, y: None,
                      [at_least_zero, no_intervals])
    assert late.floor(A, B) is None
    # a new floor above what the old intervals imply is taken at their value: a + b >= 1
    # there, a, b >= 0 in the old state, a + b >= 0 holds of both
    assert widen_zone(Zone(), _with_floor(1), lambda x, y: None,
                      [at_least_zero, no_intervals],
                      implied_old=lambda x, y: None).floor(A, B) == 0
    # and none where the old intervals imply nothing
    assert widen_zone(Zone(), _with_floor(1), lambda x, y: None,
                      [no_intervals, no_intervals],
                      implied_old=lambda x, y: None).floor(A, B) is None


def _with_floor(c: int) -> Zone:
    z = Zone()
    z.learn_floor(A, B, c)
    return z


def test_a_wrapped_add_is_forgotten_when_either_side_moves():
    # x == (y + k) mod 2^32 holds only of the values it was computed from
    for move in (lambda z: z.shift(A, -1, -1), lambda z: z.shift(X, 1, 1),
                 lambda z: z.forget(A), lambda z: z.assign(X, B, 0)):
        z = Zone()
        z.wraps[X] = (A, -1)
        move(z)
        assert X not in z.wraps
