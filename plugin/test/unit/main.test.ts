import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App, Plugin } from "obsidian-test-mocks/obsidian";
import VaultRagPlugin from "../../src/main";
import { ASK_VIEW_TYPE } from "../../src/ask-view";
import { RELATED_VIEW_TYPE } from "../../src/related-view";
import { ServicePanel } from "../../src/service-panel";

const manifest = {
	id: "vault-rag",
	name: "Vault RAG",
	version: "0.1.0",
	minAppVersion: "1.7.2",
	description: "test",
	author: "test",
	isDesktopOnly: true,
};

async function loadPlugin(data: Record<string, unknown>): Promise<{ app: App; plugin: VaultRagPlugin }> {
	const app = App.createConfigured__({ files: { "Note.md": "# Note" } });
	const plugin = new VaultRagPlugin(app.asOriginalType__(), {
		...manifest,
		dir: `${app.vault.configDir}/plugins/vault-rag`,
	});
	Plugin.fromOriginalType2__(plugin).data__ = data;
	await plugin.onload();
	return { app, plugin };
}

beforeEach(() => {
	vi.useFakeTimers();
});

afterEach(() => {
	vi.useRealTimers();
});

describe("plugin lifecycle", () => {
	it("registers commands without hotkeys, the related view, its hover source and a status bar item", async () => {
		const { plugin } = await loadPlugin({});
		const mock = Plugin.fromOriginalType2__(plugin);
		expect([...mock.commands__.keys()].sort()).toEqual([
			"ask-your-vault",
			"open-related-notes",
			"restart-search-service",
			"semantic-search",
			"show-search-service",
		]);
		expect(mock.commands__.get("semantic-search")?.name).toBe("Semantic search");
		expect([...mock.commands__.values()].every((command) => command.hotkeys === undefined)).toBe(true);
		expect(mock.views__.has(RELATED_VIEW_TYPE)).toBe(true);
		expect(mock.hoverLinkSources__.get(RELATED_VIEW_TYPE)).toEqual({ display: "Vault RAG", defaultMod: true });
		expect(mock.views__.has(ASK_VIEW_TYPE)).toBe(true);
		expect(mock.statusBarItems__[0]?.textContent).toBe("Vault RAG: off");
		expect(mock.settingTabs__).toHaveLength(1);
	});

	it("starts the service only once the layout is ready, and reports a missing binary", async () => {
		const { app, plugin } = await loadPlugin({ binaryPath: "/nonexistent/vault-rag" });
		const opened = vi.spyOn(ServicePanel.prototype, "open");
		expect(plugin.supervisor.state.kind).toBe("stopped");
		app.workspace.setLayoutReady__();
		expect(plugin.supervisor.state.kind).toBe("missing");
		// The install panel opens by itself, once per session.
		expect(opened).toHaveBeenCalledTimes(1);
		await plugin.supervisor.restart();
		expect(opened).toHaveBeenCalledTimes(1);
		const mock = Plugin.fromOriginalType2__(plugin);
		const item = mock.statusBarItems__[0];
		expect(item?.textContent).toBe("Vault RAG: not installed");
		// The status bar item opens it again.
		item?.click();
		expect(opened).toHaveBeenCalledTimes(2);
		expect(plugin.supervisor.logTail.join("\n")).toContain("/nonexistent/vault-rag");
	});

	it("restarts the service once typing pauses, and only for settings the service reads", async () => {
		const { plugin } = await loadPlugin({ binaryPath: "/nonexistent/vault-rag" });
		const restart = vi.spyOn(plugin.supervisor, "restart").mockResolvedValue();
		await plugin.updateSettings({ searchMode: "lexical", resultsCount: 5 });
		await vi.advanceTimersByTimeAsync(5_000);
		expect(restart).not.toHaveBeenCalled();
		await plugin.updateSettings({ model: "all" });
		await vi.advanceTimersByTimeAsync(500);
		await plugin.updateSettings({ model: "all-minilm-l6-v2" });
		await vi.advanceTimersByTimeAsync(1_499);
		expect(restart).not.toHaveBeenCalled();
		await vi.advanceTimersByTimeAsync(1);
		expect(restart).toHaveBeenCalledTimes(1);
		expect(Plugin.fromOriginalType2__(plugin).data__).toMatchObject({ model: "all-minilm-l6-v2", searchMode: "lexical" });
	});

	it("stops the service on unload", async () => {
		const { plugin } = await loadPlugin({});
		const stop = vi.spyOn(plugin.supervisor, "stop");
		plugin.onunload();
		expect(stop).toHaveBeenCalledTimes(1);
	});
});
