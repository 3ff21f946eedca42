# Arming tokens here are fixed labels chosen by the test, not secrets.
# ruff: noqa: S105, S106
"""The authority, driven synchronously with time as an argument: who may send what, and
the arm / approve / execute protocol for hazardous commands, refusal by refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from groundseg.errors import GroundsegError
from groundseg.gate.authority import (
    UNKNOWN_COMMAND,
    Arming,
    Authority,
    CommandPolicy,
    NotAuthorized,
    Role,
    User,
)

OPS = frozenset({Role.OPERATOR, Role.DIRECTOR})

POLICIES = {
    "lox.fill_valve": CommandPolicy(command="lox.fill_valve", roles=OPS),
    "igniter.arm": CommandPolicy(
        command="igniter.arm", roles=frozenset({Role.DIRECTOR}), hazardous=True, lease_s=10.0
    ),
    "lox.tank_press": CommandPolicy(command="lox.tank_press", roles=OPS, hazardous=True),
    "fts.enable": CommandPolicy(
        command="fts.enable",
        roles=frozenset({Role.DIRECTOR, Role.SAFETY}),
        hazardous=True,
        two_person=True,
        lease_s=20.0,
    ),
    "lox.vent_valve": CommandPolicy(
        command="lox.vent_valve", roles=frozenset({Role.DIRECTOR}), safing=True
    ),
}

ALICE = User(name="alice", roles=frozenset({Role.OPERATOR}))
DIANA = User(name="diana", roles=frozenset({Role.DIRECTOR}))
SAM = User(name="sam", roles=frozenset({Role.SAFETY}))
VERA = User(name="vera", roles=frozenset({Role.VIEWER}))
NOBODY = User(name="nobody", roles=frozenset())


def authority() -> Authority:
    return Authority(POLICIES)


# -- policies --------------------------------------------------------------------------------


def test_an_undeclared_command_gets_the_default_roles_and_is_not_hazardous() -> None:
    policy = authority().policy("ln2.purge_valve")
    assert policy == CommandPolicy(command="ln2.purge_valve", roles=OPS)
    assert not policy.hazardous


def test_an_undeclared_command_may_be_sent_by_an_operator_but_not_by_safety() -> None:
    auth = authority()
    assert auth.authorize("ln2.purge_valve", None, ALICE, now=0.0).command == "ln2.purge_valve"
    with pytest.raises(
        NotAuthorized,
        match=r"^ln2\.purge_valve: refused for sam: needs one of the roles director, operator; has safety$",
    ):
        auth.authorize("ln2.purge_valve", None, SAM, now=0.0)


def test_default_roles_can_be_chosen() -> None:
    auth = Authority(POLICIES, default_roles=frozenset({Role.SAFETY}))
    assert auth.policy("ln2.purge_valve").roles == {Role.SAFETY}
    with pytest.raises(NotAuthorized, match=r"needs one of the roles safety; has operator$"):
        auth.authorize("ln2.purge_valve", None, ALICE, now=0.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: CommandPolicy(command="x", roles=frozenset()),
            r"^x: a policy needs at least one role$",
        ),
        (
            lambda: CommandPolicy(command="x", roles=OPS, two_person=True),
            r"^x: two_person applies only to a hazardous command$",
        ),
        (
            lambda: CommandPolicy(command="x", roles=OPS, hazardous=True, safing=True),
            r"^x: a safing command cannot be hazardous$",
        ),
        (
            lambda: CommandPolicy(command="x", roles=OPS, lease_s=0.0),
            r"^x: lease_s must be positive, got 0\.0$",
        ),
        (lambda: CommandPolicy(command="x", roles=OPS, lease_s=-1.0), r"lease_s must be positive"),
        (
            lambda: CommandPolicy(command="x", roles=OPS, lease_s=float("nan")),
            r"lease_s must be positive",
        ),
        (
            lambda: CommandPolicy(command="x", roles=OPS, lease_s=float("inf")),
            r"lease_s must be positive",
        ),
    ],
)
def test_a_malformed_policy_cannot_be_built(
    build: Callable[[], CommandPolicy], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_a_policy_needs_a_command_name() -> None:
    with pytest.raises(ValueError, match=r"needs a command name"):
        CommandPolicy(command="", roles=OPS)


def test_a_policy_filed_under_another_command_is_refused() -> None:
    with pytest.raises(ValueError, match=r"policy for 'a' is declared for 'b'"):
        Authority({"a": CommandPolicy(command="b", roles=OPS)})


def test_empty_default_roles_are_refused() -> None:
    with pytest.raises(ValueError, match=r"default_roles must name at least one role"):
        Authority(POLICIES, default_roles=frozenset())


def test_a_user_needs_a_name() -> None:
    with pytest.raises(ValueError, match=r"a user needs a name"):
        User(name="", roles=OPS)


def test_an_arming_cannot_be_approved_by_its_own_armer() -> None:
    with pytest.raises(ValueError, match=r"the approver must differ"):
        Arming(
            token="t",
            command="c",
            argument=None,
            armed_by="alice",
            armed_at=0.0,
            expires_at=1.0,
            approved_by="alice",
        )


def test_an_arming_must_expire_after_it_was_armed() -> None:
    with pytest.raises(ValueError, match=r"must expire after it was armed"):
        Arming(token="t", command="c", argument=None, armed_by="a", armed_at=5.0, expires_at=5.0)


def test_not_authorized_is_a_groundseg_error_with_attributes() -> None:
    exc = NotAuthorized("igniter.arm", "vera", "lease expired")
    assert isinstance(exc, GroundsegError)
    assert (exc.command, exc.user, exc.reason) == ("igniter.arm", "vera", "lease expired")
    assert str(exc) == "igniter.arm: refused for vera: lease expired"


# -- ordinary commands -----------------------------------------------------------------------


def test_an_operator_may_send_an_ordinary_command() -> None:
    policy = authority().authorize("lox.fill_valve", 1.0, ALICE, now=0.0)
    assert policy is POLICIES["lox.fill_valve"]


def test_a_hazardous_command_cannot_be_sent_directly() -> None:
    with pytest.raises(
        NotAuthorized,
        match=r"^lox\.tank_press: refused for alice: hazardous: arm it first, then execute within the lease$",
    ):
        authority().authorize("lox.tank_press", 3.5, ALICE, now=0.0)


def test_a_user_without_roles_is_told_so() -> None:
    with pytest.raises(
        NotAuthorized, match=r"needs one of the roles director, operator; has no role$"
    ):
        authority().authorize("lox.fill_valve", None, NOBODY, now=0.0)


def test_a_user_with_several_roles_needs_only_one_of_them() -> None:
    both = User(name="bo", roles=frozenset({Role.VIEWER, Role.DIRECTOR}))
    assert authority().arm("igniter.arm", None, both, now=0.0).armed_by == "bo"


@pytest.mark.parametrize("user", [SAM, ALICE, DIANA])
def test_a_safing_command_passes_for_safety_operator_and_director(user: User) -> None:
    policy = authority().authorize("lox.vent_valve", None, user, now=0.0)
    assert policy.safing
    assert not policy.hazardous


def test_a_safing_command_is_never_armed() -> None:
    with pytest.raises(
        NotAuthorized, match=r"^lox\.vent_valve: refused for sam: not hazardous: send it directly$"
    ):
        authority().arm("lox.vent_valve", None, SAM, now=0.0)


@pytest.mark.parametrize("command", sorted(POLICIES))
def test_a_viewer_is_refused_everything(command: str) -> None:
    auth = authority()
    role_refusal = r"^.+: refused for vera: needs one of the roles .+; has viewer$"
    with pytest.raises(NotAuthorized, match=role_refusal):
        auth.authorize(command, None, VERA, now=0.0)
    with pytest.raises(NotAuthorized, match=role_refusal):
        auth.arm(command, None, VERA, now=0.0)
    assert auth.armed(0.0) == ()


# -- arm and execute -------------------------------------------------------------------------


def test_arming_an_ordinary_command_is_refused() -> None:
    with pytest.raises(
        NotAuthorized,
        match=r"^lox\.fill_valve: refused for alice: not hazardous: send it directly$",
    ):
        authority().arm("lox.fill_valve", 1.0, ALICE, now=0.0)


def test_arming_needs_the_policy_role() -> None:
    with pytest.raises(
        NotAuthorized,
        match=r"^igniter\.arm: refused for alice: needs one of the roles director; has operator$",
    ):
        authority().arm("igniter.arm", None, ALICE, now=0.0)


def test_arm_returns_a_token_with_the_lease() -> None:
    arming = authority().arm("lox.tank_press", 3.5, ALICE, now=100.0)
    assert arming == Arming(
        token="arm-1",
        command="lox.tank_press",
        argument=3.5,
        armed_by="alice",
        armed_at=100.0,
        expires_at=130.0,
    )


def test_execute_returns_the_armed_argument() -> None:
    """The argument is fixed at arming time: execute hands back what was armed."""
    auth = authority()
    token = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0).token
    executed = auth.execute(token, ALICE, now=29.0)
    assert (executed.command, executed.argument) == ("lox.tank_press", 3.5)


def test_a_used_token_cannot_be_replayed() -> None:
    auth = authority()
    token = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0).token
    auth.execute(token, ALICE, now=1.0)
    assert auth.armed(1.0) == ()
    with pytest.raises(
        NotAuthorized,
        match=r"^\(unknown\): refused for alice: no such arming \(expired, used or never armed\)$",
    ) as refused:
        auth.execute(token, ALICE, now=2.0)
    assert refused.value.command == UNKNOWN_COMMAND


def test_a_token_that_was_never_armed_is_refused() -> None:
    with pytest.raises(NotAuthorized, match=r"no such arming \(expired, used or never armed\)$"):
        authority().execute("arm-99", DIANA, now=0.0)


def test_only_the_armer_may_execute_and_the_arming_survives_the_attempt() -> None:
    auth = authority()
    token = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0).token
    with pytest.raises(
        NotAuthorized,
        match=r"^lox\.tank_press: refused for diana: armed by alice; only alice may execute$",
    ):
        auth.execute(token, DIANA, now=1.0)
    assert auth.execute(token, ALICE, now=2.0).token == token


def test_execute_rechecks_the_armers_roles() -> None:
    auth = authority()
    token = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0).token
    demoted = User(name="alice", roles=frozenset({Role.VIEWER}))
    with pytest.raises(
        NotAuthorized, match=r"needs one of the roles director, operator; has viewer$"
    ):
        auth.execute(token, demoted, now=1.0)


def test_the_lease_is_live_just_before_expires_at() -> None:
    auth = authority()
    arming = auth.arm("igniter.arm", None, DIANA, now=5.0)
    assert arming.expires_at == 15.0
    assert auth.execute(arming.token, DIANA, now=14.999).token == arming.token


def test_the_lease_has_expired_exactly_at_expires_at_and_the_arming_is_dropped() -> None:
    auth = authority()
    arming = auth.arm("igniter.arm", None, DIANA, now=5.0)
    with pytest.raises(NotAuthorized, match=r"^igniter\.arm: refused for diana: lease expired$"):
        auth.execute(arming.token, DIANA, now=15.0)
    with pytest.raises(NotAuthorized, match=r"no such arming"):
        auth.execute(arming.token, DIANA, now=15.0)
    assert auth.handle_timer(15.0) == [arming]


def test_arming_again_replaces_the_earlier_arming_of_the_same_command() -> None:
    """The newest intent wins: the old token, with its old argument, is dead."""
    auth = authority()
    first = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0)
    second = auth.arm("lox.tank_press", 4.0, DIANA, now=1.0)
    assert auth.armed(1.0) == (second,)
    with pytest.raises(NotAuthorized, match=r"no such arming"):
        auth.execute(first.token, ALICE, now=2.0)
    assert auth.execute(second.token, DIANA, now=2.0).argument == 4.0
    assert auth.handle_timer(100.0) == []


def test_different_commands_may_be_armed_at_once() -> None:
    auth = authority()
    press = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0)
    igniter = auth.arm("igniter.arm", None, DIANA, now=1.0)
    assert auth.armed(1.0) == (press, igniter)


def test_tokens_come_from_the_token_source() -> None:
    tokens = iter(["a1b2", "c3d4"])
    auth = Authority(POLICIES, token_source=lambda: next(tokens))
    assert auth.arm("lox.tank_press", 1.0, ALICE, now=0.0).token == "a1b2"
    assert auth.arm("igniter.arm", None, DIANA, now=0.0).token == "c3d4"


def test_a_token_source_that_repeats_a_live_token_is_an_error() -> None:
    auth = Authority(POLICIES, token_source=lambda: "same")
    auth.arm("lox.tank_press", 1.0, ALICE, now=0.0)
    with pytest.raises(ValueError, match=r"repeated a live token"):
        auth.arm("igniter.arm", None, DIANA, now=0.0)


# -- two-person commands ---------------------------------------------------------------------


def test_a_two_person_command_runs_after_a_second_persons_approval() -> None:
    auth = authority()
    token = auth.arm("fts.enable", None, DIANA, now=0.0).token
    approved = auth.approve(token, SAM, now=5.0)
    assert approved.approved_by == "sam"
    assert approved.expires_at == 20.0  # approval does not extend the lease
    executed = auth.execute(token, DIANA, now=6.0)
    assert executed == approved


def test_a_two_person_command_without_approval_is_refused_and_stays_armed() -> None:
    auth = authority()
    token = auth.arm("fts.enable", None, DIANA, now=0.0).token
    with pytest.raises(
        NotAuthorized, match=r"^fts\.enable: refused for diana: needs a second person's approval$"
    ):
        auth.execute(token, DIANA, now=1.0)
    auth.approve(token, SAM, now=2.0)
    assert auth.execute(token, DIANA, now=3.0).approved_by == "sam"


def test_the_armer_cannot_approve_their_own_arming() -> None:
    auth = authority()
    token = auth.arm("fts.enable", None, DIANA, now=0.0).token
    with pytest.raises(
        NotAuthorized,
        match=r"^fts\.enable: refused for diana: the second person must be someone else$",
    ):
        auth.approve(token, DIANA, now=1.0)


def test_a_viewer_cannot_approve() -> None:
    auth = authority()
    token = auth.arm("fts.enable", None, DIANA, now=0.0).token
    with pytest.raises(
        NotAuthorized,
        match=r"^fts\.enable: refused for vera: needs one of the roles director, safety; has viewer$",
    ):
        auth.approve(token, VERA, now=1.0)
    assert auth.armed(1.0)[0].approved_by == ""


def test_an_approval_after_the_lease_is_refused() -> None:
    auth = authority()
    arming = auth.arm("fts.enable", None, DIANA, now=0.0)
    with pytest.raises(NotAuthorized, match=r"^fts\.enable: refused for sam: lease expired$"):
        auth.approve(arming.token, SAM, now=20.0)
    assert auth.armed(20.0) == ()


def test_an_unknown_token_cannot_be_approved() -> None:
    with pytest.raises(
        NotAuthorized,
        match=r"^\(unknown\): refused for sam: no such arming \(expired, used or never armed\)$",
    ):
        authority().approve("arm-7", SAM, now=0.0)


def test_a_command_that_is_not_two_person_needs_no_approval() -> None:
    auth = authority()
    token = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0).token
    with pytest.raises(NotAuthorized, match=r"needs no second person: the armer executes it$"):
        auth.approve(token, DIANA, now=1.0)


def test_an_arming_is_approved_only_once() -> None:
    auth = authority()
    token = auth.arm("fts.enable", None, DIANA, now=0.0).token
    auth.approve(token, SAM, now=1.0)
    other = User(name="otto", roles=frozenset({Role.SAFETY}))
    with pytest.raises(NotAuthorized, match=r"already approved by sam$"):
        auth.approve(token, other, now=2.0)


# -- disarm and timers -----------------------------------------------------------------------


def test_the_armer_may_disarm() -> None:
    auth = authority()
    arming = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0)
    assert auth.disarm(arming.token, ALICE, now=1.0) == arming
    assert auth.armed(1.0) == ()
    with pytest.raises(NotAuthorized, match=r"no such arming"):
        auth.execute(arming.token, ALICE, now=2.0)


def test_anyone_who_may_issue_the_command_may_disarm_it_but_a_viewer_may_not() -> None:
    auth = authority()
    token = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0).token
    with pytest.raises(NotAuthorized, match=r"has viewer$"):
        auth.disarm(token, VERA, now=1.0)
    auth.disarm(token, DIANA, now=1.0)
    assert auth.armed(1.0) == ()


def test_next_deadline_is_the_earliest_expiry() -> None:
    auth = authority()
    assert auth.next_deadline() is None
    auth.arm("lox.tank_press", 3.5, ALICE, now=0.0)  # expires at 30
    auth.arm("igniter.arm", None, DIANA, now=5.0)  # expires at 15
    assert auth.next_deadline() == 15.0


def test_handle_timer_reports_each_expired_arming_once() -> None:
    auth = authority()
    press = auth.arm("lox.tank_press", 3.5, ALICE, now=0.0)
    igniter = auth.arm("igniter.arm", None, DIANA, now=5.0)
    assert auth.handle_timer(14.0) == []
    assert auth.handle_timer(15.0) == [igniter]
    assert auth.handle_timer(15.0) == []
    assert auth.next_deadline() == 30.0
    assert auth.handle_timer(30.0) == [press]
    assert auth.next_deadline() is None


def test_an_expiry_noticed_by_armed_is_still_reported_by_the_timer() -> None:
    auth = authority()
    arming = auth.arm("igniter.arm", None, DIANA, now=0.0)
    assert auth.armed(10.0) == ()
    assert auth.next_deadline() == 10.0
    assert auth.handle_timer(10.0) == [arming]
    assert auth.next_deadline() is None
