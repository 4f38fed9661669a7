import { describe, expect, it } from 'vitest';
import { fromHex, utf8 } from '../../src/core/bytes.js';
import {
  cosignatureV1Line,
  cosignatureV1SignerFromSeed,
  generateCosignatureV1Key,
} from '../../src/core/cosignature.js';
import {
  formatVerifierKey,
  generateEd25519Key,
  newEd25519Signer,
  parseNote,
  signNote,
} from '../../src/core/note.js';
import { parsePolicy, quorumSatisfied, verifyCheckpointWithPolicy } from '../../src/core/policy.js';
import { expectCode } from '../helpers/expect-code.js';

// Reference §10.
const LOG_VKEY = 'example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';
const WIT_VKEY = 'example.com/witness+098ef77f+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X';
const WIT_PUB = fromHex('29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7')!;
const CP8_TEXT = 'example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n';
const CP8_LOG_LINE =
  '— example.com/log 1FXFIQghEbt48JV0nbbvyoj51oOGWi8PWVu51z3js1zWy2qLhh2zcvy6M2X+e8pEVRpGR/9z7MVVru29jIzLkdPuEwg=';
const CP8_WIT_LINE =
  '— example.com/witness CY73fwAAAABlU/EA5qoXb2upYCVvwU57HyfnAEFRmLcQJPcjxRBvQm06RwFL5yc6USs37aZKNWAqDA8Mlem5PPKrnJ0Kitk8yjXCDA==';
const CP8_NOTE = `${CP8_TEXT}\n${CP8_LOG_LINE}\n${CP8_WIT_LINE}\n`;
const SIGSUM_VKEY =
  'sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562+5202289b+Af/cLU2Y5BJNP+r3iMDC+av9eWCD0fBJVDfzAux5zxAP';

/** Deterministic witness keys: seed = 32 bytes of `i`. */
function witness(i: number): { name: string; vkey: string; seed: Uint8Array } {
  const seed = new Uint8Array(32).fill(i);
  const name = `w${i}.example`;
  return { name, vkey: generateCosignatureV1Key(name, seed).vkey, seed };
}
const W = [0, 1, 2, 3, 4, 5, 6].map(witness);

const policyError = (text: string) => expectCode(() => parsePolicy(text), 'malformed_policy');

/** The (name, keyId) of witnesses with indices `idx`. */
function signedBy(...idx: number[]): { name: string; keyId: number }[] {
  return idx.map((i) => {
    const s = cosignatureV1SignerFromSeed(W[i]!.name, W[i]!.seed);
    return { name: s.name, keyId: s.keyId };
  });
}

const EXAMPLE = `# example from tlog-policy
log ${LOG_VKEY}

witness X1 ${W[1]!.vkey} https://w1.example/
witness X2 ${W[2]!.vkey}
  witness X3\t${W[3]!.vkey}   
group X-witnesses 2 X1 X2 X3

witness Y1 ${W[4]!.vkey}
witness Y2 ${W[5]!.vkey}
witness Y3 ${W[6]!.vkey}
group Y-witnesses any Y1 Y2 Y3
    # indented comment
group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`;

describe('parsePolicy', () => {
  it('parses the tlog-policy example structure', () => {
    const p = parsePolicy(EXAMPLE);
    expect(p.logs).toHaveLength(1);
    expect(p.logs[0]!.verifier.name).toBe('example.com/log');
    expect(p.logs[0]!.line).toBe(2);
    expect([...p.witnesses.keys()]).toEqual(['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3']);
    expect(p.witnesses.get('X1')!.url).toBe('https://w1.example/');
    expect(p.witnesses.get('X2')!.url).toBeUndefined();
    expect(p.witnesses.get('X3')!.line).toBe(6);
    expect(p.groups.get('X-witnesses')).toEqual({
      name: 'X-witnesses',
      threshold: 2,
      members: ['X1', 'X2', 'X3'],
      line: 7,
    });
    expect(p.groups.get('Y-witnesses')!.threshold).toBe(1);
    expect(p.groups.get('X-and-Y')!.threshold).toBe(2);
    expect(p.quorum).toBe('X-and-Y');
    expect(parsePolicy(utf8(EXAMPLE)).quorum).toBe('X-and-Y');
  });

  it('accepts "quorum none" without logs or witnesses, and no final newline', () => {
    expect(parsePolicy('quorum none').quorum).toBe('none');
    expect(parsePolicy('\n# c\nquorum none\n').logs).toEqual([]);
  });

  it('accepts a type 0x01 witness vkey (re-keyed to 0x04)', () => {
    const vkey01 = formatVerifierKey('example.com/witness', 0x01, WIT_PUB);
    const p = parsePolicy(`witness W ${vkey01}\nquorum W\n`);
    expect(p.witnesses.get('W')!.verifier.keyId).toBe(0x098ef77f);
  });

  const errors: [string, string, number | undefined, RegExp][] = [
    ['unknown keyword', `quorum none\nwitnesses A ${W[1]!.vkey}\n`, 2, /unknown keyword "witnesses"/],
    ['no quorum', `witness A ${W[1]!.vkey}\n`, undefined, /no quorum line/],
    ['two quorums', 'quorum none\nquorum none\n', 2, /more than one quorum/],
    ['quorum before definition', `quorum A\nwitness A ${W[1]!.vkey}\n`, 1, /not defined on an earlier line/],
    ['quorum arity', 'quorum a b\n', 1, /expected "quorum <name\|none>"/],
    ['quorum missing name', 'quorum\n', 1, /expected "quorum/],
    ['log arity', `log ${LOG_VKEY} url extra\nquorum none\n`, 1, /expected "log <vkey> \[<url>\]"/],
    ['log missing vkey', 'log\nquorum none\n', 1, /expected "log/],
    [
      'log bad vkey',
      `log ${LOG_VKEY.replace('d455c521', 'd455c520')}\nquorum none\n`,
      1,
      /invalid log vkey: .*does not match/,
    ],
    [
      'log vkey of type 0x04',
      `log ${WIT_VKEY}\nquorum none\n`,
      1,
      /invalid log vkey: .*unsupported signature type 0x4/,
    ],
    ['duplicate log key', `log ${LOG_VKEY}\nquorum none\nlog ${LOG_VKEY}\n`, 3, /duplicate log public key/],
    [
      'duplicate log key under another name',
      `log ${LOG_VKEY}\nlog ${formatVerifierKey('other', 1, fromHex('03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8')!)}\nquorum none\n`,
      2,
      /duplicate log public key/,
    ],
    ['witness arity', `witness A\nquorum none\n`, 1, /expected "witness <name> <vkey> \[<url>\]"/],
    ['witness too many items', `witness A ${W[1]!.vkey} u x\nquorum none\n`, 1, /expected "witness/],
    ['witness bad vkey', `witness A ${W[1]!.vkey.slice(0, -2)}\nquorum none\n`, 1, /invalid witness vkey/],
    ['witness named none', `witness none ${W[1]!.vkey}\nquorum none\n`, 1, /"none" is reserved/],
    [
      'duplicate witness name',
      `witness A ${W[1]!.vkey}\nwitness A ${W[2]!.vkey}\n`,
      2,
      /"A" is already defined/,
    ],
    [
      'duplicate witness key',
      `witness A ${W[1]!.vkey}\nwitness B ${formatVerifierKey('other', 4, cosignatureV1SignerFromSeed('x', W[1]!.seed).publicKey)}\n`,
      2,
      /duplicate witness public key \(already used by "A"\)/,
    ],
    [
      'group arity',
      `witness A ${W[1]!.vkey}\ngroup G 1\n`,
      2,
      /expected "group <name> <k\|any\|all> <member>..."/,
    ],
    ['group name clash', `witness A ${W[1]!.vkey}\ngroup A any A\n`, 2, /"A" is already defined/],
    ['group named none', `witness A ${W[1]!.vkey}\ngroup none any A\n`, 2, /reserved/],
    ['undefined member', `witness A ${W[1]!.vkey}\ngroup G any A B\n`, 2, /member "B" is not defined/],
    ['self reference', `witness A ${W[1]!.vkey}\ngroup G any A G\n`, 2, /member "G" is not defined/],
    ['member none', `witness A ${W[1]!.vkey}\ngroup G any A none\n`, 2, /"none" cannot be a group member/],
    ['duplicate member', `witness A ${W[1]!.vkey}\ngroup G any A A\n`, 2, /member "A" is listed twice/],
    ['k = 0', `witness A ${W[1]!.vkey}\ngroup G 0 A\n`, 2, /threshold 0 is outside 1..1/],
    ['k > n', `witness A ${W[1]!.vkey}\ngroup G 2 A\n`, 2, /threshold 2 is outside 1..1/],
    [
      'k leading zero',
      `witness A ${W[1]!.vkey}\ngroup G 01 A\n`,
      2,
      /threshold "01" is not any, all or a decimal/,
    ],
    ['k word', `witness A ${W[1]!.vkey}\ngroup G ANY A\n`, 2, /threshold "ANY"/],
    ['control character', 'quorum none\r\n', 1, /forbidden control character 0x0d/],
    ['DEL', '# \u007f\nquorum none\n', 1, /0x7f/],
    ['NUL in comment', 'quorum none\n#\u0000\n', 2, /0x00/],
  ];
  for (const [label, text, line, msg] of errors) {
    it(`rejects: ${label}`, () => {
      const e = policyError(text);
      expect(e.message).toMatch(msg);
      expect(e.details.line).toBe(line);
      if (line !== undefined) expect(e.message.startsWith(`policy line ${line}: `)).toBe(true);
    });
  }

  it('rejects invalid UTF-8 bytes', () => {
    expect(() => parsePolicy(Uint8Array.of(0x71, 0xff, 0x0a))).toThrow(/not valid UTF-8/);
  });
});

describe('quorumSatisfied', () => {
  const p = parsePolicy(EXAMPLE);

  it('evaluates nested k-of-n, any and all groups', () => {
    expect(quorumSatisfied(p, [])).toBe(false);
    expect(quorumSatisfied(p, signedBy(1, 2))).toBe(false); // no Y
    expect(quorumSatisfied(p, signedBy(1, 4))).toBe(false); // only 1 of X
    expect(quorumSatisfied(p, signedBy(1, 2, 4))).toBe(true);
    expect(quorumSatisfied(p, signedBy(2, 3, 6))).toBe(true);
    expect(quorumSatisfied(p, signedBy(1, 2, 3, 4, 5, 6))).toBe(true);
    expect(quorumSatisfied(p, signedBy(4, 5, 6, 1))).toBe(false);
  });

  it('matches witnesses by vkey key name and type-0x04 key ID, not by policy name', () => {
    const [x1, x2, y1] = signedBy(1, 2, 4);
    expect(quorumSatisfied(p, [{ name: 'X1', keyId: x1!.keyId }, x2!, y1!])).toBe(false);
    expect(quorumSatisfied(p, [{ name: x1!.name, keyId: x1!.keyId ^ 1 }, x2!, y1!])).toBe(false);
  });

  it('a single-witness quorum and quorum none', () => {
    const single = parsePolicy(`witness A ${W[1]!.vkey}\nwitness B ${W[2]!.vkey}\nquorum B\n`);
    expect(quorumSatisfied(single, signedBy(1))).toBe(false);
    expect(quorumSatisfied(single, signedBy(2))).toBe(true);
    expect(quorumSatisfied(parsePolicy('quorum none\n'), [])).toBe(true);
  });
});

describe('verifyCheckpointWithPolicy', () => {
  const policy = parsePolicy(`log ${LOG_VKEY}\nlog ${SIGSUM_VKEY}\nwitness W ${WIT_VKEY}\nquorum W\n`);

  it('accepts the §10 cosigned checkpoint', () => {
    const r = verifyCheckpointWithPolicy(CP8_NOTE, policy);
    expect(r.checkpoint.size).toBe(8);
    expect(r.log.verifier.name).toBe('example.com/log');
    expect(r.witnesses).toEqual(['W']);
    expect(r.note.verified).toHaveLength(2);
  });

  it('rejects a checkpoint without the witness cosignature', () => {
    const e = expectCode(
      () => verifyCheckpointWithPolicy(`${CP8_TEXT}\n${CP8_LOG_LINE}\n`, policy),
      'policy_unsatisfied',
    );
    expect(e.message).toBe('witness quorum "W" is not satisfied');
  });

  it('rejects an unknown origin, a missing log signature and a bad cosignature', () => {
    const noLogs = parsePolicy(`witness W ${WIT_VKEY}\nquorum W\n`);
    expect(() => verifyCheckpointWithPolicy(CP8_NOTE, noLogs)).toThrow(
      expect.objectContaining({ code: 'unknown_log' }),
    );
    expect(() => verifyCheckpointWithPolicy(`${CP8_TEXT}\n${CP8_WIT_LINE}\n`, policy)).toThrow(
      expect.objectContaining({ code: 'unverified_note' }),
    );
    const badWit = CP8_WIT_LINE.replace('CDA==', 'CDQ==');
    expect(() => verifyCheckpointWithPolicy(`${CP8_TEXT}\n${CP8_LOG_LINE}\n${badWit}\n`, policy)).toThrow(
      expect.objectContaining({ code: 'invalid_signature' }),
    );
  });

  it('accepts quorum none with only the log signature, and ignores unknown cosigners', () => {
    const none = parsePolicy(`log ${LOG_VKEY}\nquorum none\n`);
    const extra = cosignatureV1Line(
      cosignatureV1SignerFromSeed('other.example', W[0]!.seed, () => 5n),
      CP8_TEXT,
    );
    const r = verifyCheckpointWithPolicy(`${CP8_TEXT}\n${CP8_LOG_LINE}\n${extra}`, none);
    expect(r.witnesses).toEqual([]);
    expect(r.note.unverified.map((s) => s.name)).toEqual(['other.example']);
    expect(parseNote(`${CP8_TEXT}\n${CP8_LOG_LINE}\n${extra}`).signatures).toHaveLength(2);
  });

  it('evaluates a 2-of-3 quorum over real cosignatures', () => {
    const log = generateEd25519Key('example.com/log', new Uint8Array(32).fill(9));
    const p = parsePolicy(
      `log ${log.vkey}\nwitness A ${W[1]!.vkey}\nwitness B ${W[2]!.vkey}\nwitness C ${W[3]!.vkey}\ngroup G 2 A B C\nquorum G\n`,
    );
    const cos = (i: number) =>
      cosignatureV1Line(
        cosignatureV1SignerFromSeed(W[i]!.name, W[i]!.seed, () => 1700000000n),
        CP8_TEXT,
      );
    const logSigned = signNote(CP8_TEXT, [newEd25519Signer(log.skey)]);
    expect(() => verifyCheckpointWithPolicy(`${logSigned}${cos(1)}`, p)).toThrow(
      expect.objectContaining({ code: 'policy_unsatisfied' }),
    );
    // The §10 log key is not in this policy: its line is ignored, the generated key's is required.
    expect(() => verifyCheckpointWithPolicy(`${CP8_TEXT}\n${CP8_LOG_LINE}\n${cos(1)}${cos(2)}`, p)).toThrow(
      expect.objectContaining({ code: 'unverified_note' }),
    );
    const r = verifyCheckpointWithPolicy(`${logSigned}${cos(3)}${cos(1)}`, p);
    expect(r.witnesses).toEqual(['A', 'C']);
  });
});
