/**
 * Just enough of Obsidian's API, in a browser page, for the plugin's real views to render for screenshots: the DOM
 * helpers Obsidian adds to every element, Modal, SuggestModal, ItemView, Setting and PluginSettingTab. Classes and
 * markup follow Obsidian's, so that page.css can style them like the default theme.
 */

type ElOptions = { cls?: string | string[]; text?: string; href?: string; attr?: Record<string, string> };

declare global {
	interface HTMLElement {
		createEl<K extends keyof HTMLElementTagNameMap>(tag: K, o?: ElOptions | string): HTMLElementTagNameMap[K];
		createDiv(o?: ElOptions | string): HTMLDivElement;
		createSpan(o?: ElOptions | string): HTMLSpanElement;
		empty(): void;
		addClass(...cls: string[]): void;
		removeClass(...cls: string[]): void;
		toggleClass(cls: string, on: boolean): void;
		setText(text: string): void;
		setAttr(name: string, value: string): void;
		appendText(text: string): void;
	}
}

function make<K extends keyof HTMLElementTagNameMap>(tag: K, o?: ElOptions | string): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	const opts = typeof o === "string" ? { cls: o } : (o ?? {});
	if (opts.cls) el.className = Array.isArray(opts.cls) ? opts.cls.join(" ") : opts.cls;
	if (opts.text !== undefined) el.textContent = opts.text;
	if (opts.href !== undefined) el.setAttribute("href", opts.href);
	for (const [k, v] of Object.entries(opts.attr ?? {})) el.setAttribute(k, v);
	return el;
}

const proto = HTMLElement.prototype;
proto.createEl = function <K extends keyof HTMLElementTagNameMap>(this: HTMLElement, tag: K, o?: ElOptions | string) {
	return this.appendChild(make(tag, o));
};
proto.createDiv = function (this: HTMLElement, o?: ElOptions | string) {
	return this.createEl("div", o);
};
proto.createSpan = function (this: HTMLElement, o?: ElOptions | string) {
	return this.createEl("span", o);
};
proto.empty = function (this: HTMLElement) {
	this.replaceChildren();
};
proto.addClass = function (this: HTMLElement, ...cls: string[]) {
	this.classList.add(...cls);
};
proto.removeClass = function (this: HTMLElement, ...cls: string[]) {
	this.classList.remove(...cls);
};
proto.toggleClass = function (this: HTMLElement, cls: string, on: boolean) {
	this.classList.toggle(cls, on);
};
proto.setText = function (this: HTMLElement, text: string) {
	this.textContent = text;
};
proto.setAttr = function (this: HTMLElement, name: string, value: string) {
	this.setAttribute(name, value);
};
proto.appendText = function (this: HTMLElement, text: string) {
	this.append(text);
};

export const Platform = { isMacOS: true, isDesktop: true };
export const Keymap = { isModEvent: () => false };
export function requireApiVersion(): boolean {
	return false;
}
export function debounce<T extends (...args: never[]) => unknown>(fn: T): T {
	return fn;
}
export class Notice {
	constructor(_message: string) {}
}
export class TFile {
	constructor(
		public path: string,
		public extension = "md",
	) {}
	get basename(): string {
		return this.path.replace(/^.*\//, "").replace(/\.md$/, "");
	}
}
export class MarkdownView {}
export class FileSystemAdapter {}

export class Component {
	register(_cb: () => void): void {}
	registerEvent(_ref: unknown): void {}
}

export class Modal extends Component {
	containerEl = make("div", "modal-container mod-dim");
	modalEl: HTMLElement;
	titleEl: HTMLElement;
	contentEl: HTMLElement;
	scope = { register: () => undefined };
	constructor(public app: unknown) {
		super();
		this.containerEl.createDiv("modal-bg");
		this.modalEl = this.containerEl.createDiv("modal");
		this.modalEl.createDiv("modal-close-button");
		const header = this.modalEl.createDiv("modal-header");
		this.titleEl = header.createDiv("modal-title");
		this.contentEl = this.modalEl.createDiv("modal-content");
	}
	setTitle(title: string): this {
		this.titleEl.setText(title);
		return this;
	}
	open(): void {
		document.body.appendChild(this.containerEl);
		this.onOpen();
	}
	close(): void {
		this.onClose();
		this.containerEl.remove();
	}
	onOpen(): void {}
	onClose(): void {}
}

export abstract class SuggestModal<T> extends Modal {
	limit = 50;
	emptyStateText = "No results found.";
	inputEl: HTMLInputElement;
	resultContainerEl: HTMLElement;
	private instructionsEl: HTMLElement;
	constructor(app: unknown) {
		super(app);
		this.modalEl.className = "prompt";
		this.modalEl.empty();
		const input = this.modalEl.createDiv("prompt-input-container");
		this.inputEl = input.createEl("input", { cls: "prompt-input" });
		this.resultContainerEl = this.modalEl.createDiv("prompt-results");
		this.instructionsEl = this.modalEl.createDiv("prompt-instructions");
		this.inputEl.addEventListener("input", () => void this.update());
	}
	setPlaceholder(text: string): void {
		this.inputEl.placeholder = text;
	}
	setInstructions(list: { command: string; purpose: string }[]): void {
		this.instructionsEl.empty();
		for (const item of list) {
			const el = this.instructionsEl.createDiv("prompt-instruction");
			el.createSpan({ cls: "prompt-instruction-command", text: item.command });
			el.createSpan({ text: item.purpose });
		}
	}
	selectActiveSuggestion(_evt: unknown): void {}
	/** For the screenshot: type a query and wait for the suggestions. */
	async type(query: string): Promise<void> {
		this.inputEl.value = query;
		await this.update();
	}
	private async update(): Promise<void> {
		const items = await this.getSuggestions(this.inputEl.value);
		this.resultContainerEl.empty();
		if (items.length === 0) {
			this.resultContainerEl.createDiv({ cls: "suggestion-empty", text: this.emptyStateText });
			return;
		}
		items.slice(0, this.limit).forEach((item, i) => {
			const el = this.resultContainerEl.createDiv(i === 0 ? "suggestion-item is-selected" : "suggestion-item");
			this.renderSuggestion(item, el);
		});
	}
	abstract getSuggestions(query: string): T[] | Promise<T[]>;
	abstract renderSuggestion(value: T, el: HTMLElement): void;
	abstract onChooseSuggestion(item: T, evt: MouseEvent | KeyboardEvent): void;
}

export class ItemView extends Component {
	containerEl = make("div", "workspace-leaf-content");
	contentEl: HTMLElement;
	app: unknown;
	constructor(public leaf: { app: unknown }) {
		super();
		this.app = leaf.app;
		const header = this.containerEl.createDiv("view-header");
		header.createDiv({ cls: "view-header-title", text: "" });
		this.contentEl = this.containerEl.createDiv("view-content");
	}
	getIcon(): string {
		return "";
	}
	async onClose(): Promise<void> {}
}

class Component2 {
	constructor(protected el: HTMLElement) {}
}

export class ButtonComponent extends Component2 {
	buttonEl: HTMLButtonElement;
	constructor(el: HTMLElement) {
		super(el);
		this.buttonEl = el.createEl("button");
	}
	setButtonText(t: string): this {
		this.buttonEl.setText(t);
		return this;
	}
	setCta(): this {
		this.buttonEl.addClass("mod-cta");
		return this;
	}
	setDisabled(disabled: boolean): this {
		this.buttonEl.disabled = disabled;
		return this;
	}
	onClick(cb: () => void): this {
		this.buttonEl.addEventListener("click", cb);
		return this;
	}
}

class ValueComponent<E extends HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement> extends Component2 {
	constructor(
		el: HTMLElement,
		public inputEl: E,
	) {
		super(el);
	}
	setValue(v: string): this {
		this.inputEl.value = v;
		return this;
	}
	setPlaceholder(text: string): this {
		if ("placeholder" in this.inputEl) this.inputEl.placeholder = text;
		return this;
	}
	onChange(_cb: (v: string) => void): this {
		return this;
	}
}

class DropdownComponent extends ValueComponent<HTMLSelectElement> {
	constructor(el: HTMLElement) {
		super(el, el.createEl("select", { cls: "dropdown" }));
	}
	addOption(value: string, label: string): this {
		const option = this.inputEl.createEl("option", { text: label });
		option.value = value;
		return this;
	}
}

class ToggleComponent extends Component2 {
	private toggleEl: HTMLElement;
	constructor(el: HTMLElement) {
		super(el);
		this.toggleEl = el.createDiv("checkbox-container");
	}
	setValue(on: boolean): this {
		this.toggleEl.toggleClass("is-enabled", on);
		return this;
	}
	onChange(_cb: (v: boolean) => void): this {
		return this;
	}
}

export class Setting {
	settingEl: HTMLElement;
	infoEl: HTMLElement;
	nameEl: HTMLElement;
	descEl: HTMLElement;
	controlEl: HTMLElement;
	constructor(containerEl: HTMLElement) {
		this.settingEl = containerEl.createDiv("setting-item");
		this.infoEl = this.settingEl.createDiv("setting-item-info");
		this.nameEl = this.infoEl.createDiv("setting-item-name");
		this.descEl = this.infoEl.createDiv("setting-item-description");
		this.controlEl = this.settingEl.createDiv("setting-item-control");
	}
	setName(name: string): this {
		this.nameEl.setText(name);
		return this;
	}
	setDesc(desc: string): this {
		this.descEl.setText(desc);
		return this;
	}
	setHeading(): this {
		this.settingEl.addClass("setting-item-heading");
		return this;
	}
	addButton(cb: (b: ButtonComponent) => unknown): this {
		cb(new ButtonComponent(this.controlEl));
		return this;
	}
	addDropdown(cb: (d: DropdownComponent) => unknown): this {
		cb(new DropdownComponent(this.controlEl));
		return this;
	}
	addText(cb: (t: ValueComponent<HTMLInputElement>) => unknown): this {
		const input = this.controlEl.createEl("input");
		input.type = "text";
		cb(new ValueComponent(this.controlEl, input));
		return this;
	}
	addTextArea(cb: (t: ValueComponent<HTMLTextAreaElement>) => unknown): this {
		cb(new ValueComponent(this.controlEl, this.controlEl.createEl("textarea")));
		return this;
	}
	addToggle(cb: (t: ToggleComponent) => unknown): this {
		cb(new ToggleComponent(this.controlEl));
		return this;
	}
}

export class PluginSettingTab {
	containerEl = make("div", "vertical-tab-content");
	constructor(
		public app: unknown,
		public plugin: unknown,
	) {}
	update(): void {}
	getSettingDefinitions(): unknown[] {
		return [];
	}
	display(): void {}
}
