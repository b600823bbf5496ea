import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NabInputError } from './corpus.ts';
import { parseProfiles, type Profiles } from './scorer.ts';

/** NAB's three cost profiles (config/profiles.json of NAB v1.1), used when DIR has none. */
export const NAB_PROFILES: Profiles = {
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 },
};

/** DIR/profiles.json or DIR/config/profiles.json when present, else NAB's profiles. */
export function loadProfiles(dir: string): Profiles {
  for (const p of [join(dir, 'profiles.json'), join(dir, 'config', 'profiles.json')]) {
    if (!existsSync(p)) continue;
    try {
      return parseProfiles(JSON.parse(readFileSync(p, 'utf8')));
    } catch (err) {
      throw new NabInputError(`${p}: ${(err as Error).message}`);
    }
  }
  return NAB_PROFILES;
}
