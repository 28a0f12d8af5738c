import { specProject } from '../../vitest.project.mjs';

export default specProject(import.meta.dirname);
