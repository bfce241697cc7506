export type PlayerAction = 'toggle-play' | 'toggle-mute' | 'toggle-fullscreen';

const ACTIONS: Record<string, PlayerAction> = { ' ': 'toggle-play', m: 'toggle-mute', f: 'toggle-fullscreen' };

/** The element a key press went to, as far as shortcuts care; `type` is an <input>'s. */
export interface KeyTarget {
  tagName: string;
  type: string | null;
  isContentEditable: boolean;
  role: string | null;
}

export type ShortcutKey = Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'repeat' | 'defaultPrevented'>;

/** <input>s that take no letters: a letter pressed there may still be a shortcut. */
const LETTERLESS_INPUTS = new Set(['checkbox', 'radio', 'range', 'button', 'submit', 'reset', 'color', 'file', 'image']);
/** Controls that Space already activates or moves: taking it from them would break keyboard use. */
const SPACE_TAGS = new Set(['BUTTON', 'A', 'SUMMARY', 'INPUT', 'SELECT', 'TEXTAREA']);
const SPACE_ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'switch', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'option', 'tab', 'slider']);

function takesText(target: KeyTarget): boolean {
  if (target.isContentEditable || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT') return true;
  return target.tagName === 'INPUT' && !LETTERLESS_INPUTS.has(target.type ?? 'text');
}

/**
 * The player action a key press asks for (Space: play/pause, M: mute, F: full screen), or null
 * when the key is not one, or belongs to what has focus. Modified keys are the browser's
 * (Ctrl+F finds); a held key's repeats would toggle back and forth.
 */
export function shortcutFor(key: ShortcutKey, target: KeyTarget | null): PlayerAction | null {
  if (key.defaultPrevented || key.repeat || key.ctrlKey || key.metaKey || key.altKey) return null;
  const action = ACTIONS[key.key.toLowerCase()] ?? null;
  if (!action || !target) return action;
  if (takesText(target)) return null;
  if (action === 'toggle-play' && (SPACE_TAGS.has(target.tagName) || (target.role !== null && SPACE_ROLES.has(target.role)))) return null;
  return action;
}

/** What shortcutFor needs to know of a key press's target. */
export function keyTargetOf(target: EventTarget | null): KeyTarget | null {
  if (!(target instanceof HTMLElement)) return null;
  return {
    tagName: target.tagName,
    type: target instanceof HTMLInputElement ? target.type : null,
    isContentEditable: target.isContentEditable,
    role: target.getAttribute('role'),
  };
}
