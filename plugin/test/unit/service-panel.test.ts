import { afterEach, describe, expect, it, vi } from "vitest";
import { App, ButtonComponent } from "obsidian-test-mocks/obsidian";
import { installCommand, RELEASES_URL } from "../../src/binary";
import { ServicePanel, type ServicePanelHost } from "../../src/service-panel";
import type { SupervisorState } from "../../src/supervisor";
import { healthAnswer } from "../helpers/health";

afterEach(() => {
	vi.restoreAllMocks();
});

function open(state: SupervisorState, platform: NodeJS.Platform = "darwin") {
	const buttons: ButtonComponent[] = [];
	const create = ButtonComponent.create__.bind(ButtonComponent);
	vi.spyOn(ButtonComponent, "create__").mockImplementation((el: HTMLElement) => {
		const made = create(el);
		buttons.push(made);
		return made;
	});
	let current = state;
	const listeners = new Set<(s: SupervisorState) => void>();
	const copied: string[] = [];
	let checks = 0;
	const host: ServicePanelHost = {
		state: () => current,
		binary: () => (current.kind === "running" ? { path: "/Users/ann/.local/bin/vault-rag", source: "the installer's folder" } : null),
		onChange: (listener) => {
			listeners.add(listener);
			return () => listeners.delete(listener);
		},
		checkAgain: () => {
			checks += 1;
		},
		platform,
		copy: (text) => copied.push(text),
	};
	const panel = new ServicePanel(App.createConfigured__().asOriginalType__(), host);
	panel.open();
	const change = (next: SupervisorState) => {
		current = next;
		for (const listener of listeners) listener(next);
	};
	// The last button with this label: a re-render makes new ones.
	const button = (label: string): { click: () => void } => {
		const found = buttons.filter((b) => b.buttonEl.textContent === label).pop();
		if (!found) throw new Error(`no button "${label}" in: ${panel.contentEl.textContent}`);
		return { click: () => found.simulateClick__() };
	};
	return { panel, copied, checks: () => checks, change, button, listeners };
}

describe("ServicePanel", () => {
	it("explains a missing service with this platform's install command, a link and where it looked", () => {
		const { panel, copied, checks, button } = open({
			kind: "missing",
			reason: "The vault-rag search service is not installed.",
			looked: ["/Users/ann/.local/bin/vault-rag", "/opt/homebrew/bin/vault-rag"],
		});
		const text = panel.contentEl.textContent ?? "";
		expect(panel.titleEl.textContent).toBe("Install the search service");
		expect(text).toContain("installed once, separately");
		expect(panel.contentEl.querySelector("code")?.textContent).toBe(installCommand("darwin"));
		expect(panel.contentEl.querySelector("a")?.getAttribute("href")).toBe(RELEASES_URL);
		expect(text).toContain("/opt/homebrew/bin/vault-rag");
		expect(text).toContain("developer cannot be verified");
		button("Copy command").click();
		expect(copied).toEqual([installCommand("darwin")]);
		button("Check again").click();
		expect(checks()).toBe(1);
	});

	it("gives the PowerShell command on Windows", () => {
		const { panel } = open({ kind: "missing", reason: "not installed", looked: [] }, "win32");
		expect(panel.contentEl.querySelector("code")?.textContent).toContain("install.ps1");
		expect(panel.contentEl.textContent).toContain("Run this in PowerShell:");
	});

	it("explains a version mismatch and follows the service's state while open", () => {
		const { panel, change, listeners } = open({
			kind: "incompatible",
			path: "/usr/local/bin/vault-rag",
			version: "0.0.9",
			message: "The service at /usr/local/bin/vault-rag is vault-rag 0.0.9, older than this plugin needs.",
		});
		expect(panel.titleEl.textContent).toBe("Update needed");
		expect(panel.contentEl.textContent).toContain("vault-rag 0.0.9, older than this plugin needs");
		change({ kind: "running", health: healthAnswer() });
		expect(panel.titleEl.textContent).toBe("Search service");
		expect(panel.contentEl.textContent).toContain("Program: /Users/ann/.local/bin/vault-rag (found in the installer's folder)");
		expect(panel.contentEl.textContent).toContain(`Version: ${healthAnswer().version}`);
		panel.close();
		expect(listeners.size).toBe(0);
	});
});
