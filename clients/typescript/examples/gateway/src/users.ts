// The gateway's own accounts: username + password, hashed with scrypt (node:crypto).
// In memory: an example. A real site keeps the same records in its database.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";

const KEY_LEN = 64;
const PARAMS: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((ok, fail) =>
    scryptCb(password.normalize("NFKC"), salt, KEY_LEN, PARAMS, (err, key) => (err ? fail(err) : ok(key))),
  );
}

/** Usernames double as authyd `user_id`s, so they stay within its alphabet ([A-Za-z0-9._:@-]). */
export const USERNAME_RULE = /^[a-z0-9][a-z0-9._-]{2,31}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 200;

interface Account {
  username: string;
  salt: Buffer;
  hash: Buffer;
}

export class UserStore {
  private readonly accounts = new Map<string, Account>();
  // Compared against when the username is unknown, so both cases cost one scrypt.
  private readonly decoy = { salt: randomBytes(16), hash: randomBytes(KEY_LEN) };

  /** Normalizes a typed username (trimmed, lower case). */
  static normalize(raw: string): string {
    return raw.trim().toLowerCase();
  }

  /** Checks a sign-up; returns what is wrong, or undefined. */
  static problem(username: string, password: string): string | undefined {
    if (!USERNAME_RULE.test(username)) {
      return "Usernames are 3 to 32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.";
    }
    if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
      return `Passwords are ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`;
    }
    return undefined;
  }

  /** Creates an account; false if the username is taken. */
  async create(username: string, password: string): Promise<boolean> {
    if (this.accounts.has(username)) {
      return false;
    }
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt);
    if (this.accounts.has(username)) {
      return false; // taken while hashing
    }
    this.accounts.set(username, { username, salt, hash });
    return true;
  }

  /** Whether the password is this user's. Unknown users cost the same as a wrong password. */
  async verify(username: string, password: string): Promise<boolean> {
    const account = this.accounts.get(username);
    const { salt, hash } = account ?? this.decoy;
    const got = await scrypt(password, salt);
    return timingSafeEqual(got, hash) && account !== undefined;
  }
}
