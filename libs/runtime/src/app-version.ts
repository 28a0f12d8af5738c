// The workspace manifest is the single source of the release version; webpack bundles it, so
// the running app needs no package.json next to it.
// eslint-disable-next-line @nx/enforce-module-boundaries
import packageJson from '../../../package.json';

/** The release version, from the workspace package.json. */
export const APP_VERSION: string = packageJson.version;
