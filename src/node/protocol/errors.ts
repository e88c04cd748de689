/**
 * Why a protocol message is refused. Every error names the message kind and
 * what is wrong, so a node or server can log it and tell the sender in one line.
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** The bytes are not dag-cbor, or the value has a missing, extra or mistyped field. */
export class MessageDecodeError extends ProtocolError {
  override name = 'MessageDecodeError';
}

/** The encoded message, or one of its lists or strings, is over its limit. */
export class MessageTooLargeError extends ProtocolError {
  override name = 'MessageTooLargeError';
}

/** A signature does not verify against the key of the peer the message names as its signer. */
export class BadSignatureError extends ProtocolError {
  override name = 'BadSignatureError';
}

/** The message is signed by (or names) another peer than the one it must come from. */
export class SignerMismatchError extends ProtocolError {
  override name = 'SignerMismatchError';
}

/** The message's time is too old, or too far in the future for clock skew to explain. */
export class StaleMessageError extends ProtocolError {
  override name = 'StaleMessageError';
  constructor(
    message: string,
    /** `'old'` when older than the allowed age, `'future'` when ahead of the clock by more than the skew. */
    readonly reason: 'old' | 'future',
  ) {
    super(message);
  }
}

/** Evidence does not prove what it claims: an advert for another CID, a wrong entry id, an edge not of the reporter. */
export class EvidenceMismatchError extends ProtocolError {
  override name = 'EvidenceMismatchError';
}

/** A report or verdict carries a sequence number not above the last one accepted from its sender. */
export class ReplayedSequenceError extends ProtocolError {
  override name = 'ReplayedSequenceError';
  constructor(
    message: string,
    readonly seq: number,
    readonly last: number,
  ) {
    super(message);
  }
}

/** A verdict delta does not continue the snapshot it is applied to (another server or another base sequence). */
export class DeltaBaseMismatchError extends ProtocolError {
  override name = 'DeltaBaseMismatchError';
}
