// Browser stand-ins for the Node modules the views' modules import; the screenshot scenes never call them.
const unused = (): never => {
	throw new Error("not available in the screenshot page");
};
export const spawn = unused;
export const execFileSync = unused;
export const request = unused;
export class Agent {}
export const existsSync = (): boolean => true;
export const statSync = unused;
export const accessSync = unused;
export const constants = { X_OK: 1 };
export const setTimeout = globalThis.setTimeout.bind(globalThis);
export const clearTimeout = globalThis.clearTimeout.bind(globalThis);
const join = (...parts: string[]): string => parts.join("/");
export const posix = { join };
export const win32 = { join: (...parts: string[]): string => parts.join("\\") };
export const isAbsolute = (p: string): boolean => p.startsWith("/");
export const dirname = (p: string): string => p.replace(/\/[^/]*$/, "");
export default { join, posix, win32, isAbsolute, dirname };
