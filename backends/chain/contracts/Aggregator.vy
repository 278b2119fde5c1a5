# pragma version 0.4.3
"""
@title Aggregator
@notice A settable Chainlink AggregatorV3Interface for local rehearsal: `latestRoundData`,
        `getRoundData`, `decimals`, `description`, `version`; the owner posts rounds.
"""

event AnswerUpdated:
    current: indexed(int256)
    roundId: indexed(uint256)
    updatedAt: uint256

owner: public(address)
decimals: public(uint8)
description: public(String[64])
version: public(uint256)
latestRound: public(uint80)
answers: HashMap[uint80, int256]
updated: HashMap[uint80, uint256]


@deploy
def __init__(_decimals: uint8, _description: String[64], _answer: int256):
    self.owner = msg.sender
    self.decimals = _decimals
    self.description = _description
    self.version = 4
    self._post(_answer, block.timestamp)


@external
def setAnswer(_answer: int256):
    assert msg.sender == self.owner, "Aggregator: only the owner"
    self._post(_answer, block.timestamp)


@external
def setRound(_answer: int256, _updatedAt: uint256):
    assert msg.sender == self.owner, "Aggregator: only the owner"
    self._post(_answer, _updatedAt)


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    r: uint80 = self.latestRound
    return r, self.answers[r], self.updated[r], self.updated[r], r


@view
@external
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    assert _roundId <= self.latestRound and _roundId > 0, "No data present"
    return _roundId, self.answers[_roundId], self.updated[_roundId], self.updated[_roundId], _roundId


@view
@external
def latestAnswer() -> int256:
    return self.answers[self.latestRound]


@internal
def _post(_answer: int256, _updatedAt: uint256):
    r: uint80 = self.latestRound + 1
    self.latestRound = r
    self.answers[r] = _answer
    self.updated[r] = _updatedAt
    log AnswerUpdated(current=_answer, roundId=convert(r, uint256), updatedAt=_updatedAt)
