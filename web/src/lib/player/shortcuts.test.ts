import { describe, expect, it } from 'vitest';
import { shortcutFor, type KeyTarget, type ShortcutKey } from './shortcuts';

const press = (key: string, extra: Partial<ShortcutKey> = {}): ShortcutKey => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  repeat: false,
  defaultPrevented: false,
  ...extra,
});
const on = (tagName: string, extra: Partial<KeyTarget> = {}): KeyTarget => ({ tagName, type: null, isContentEditable: false, role: null, ...extra });
const body = on('BODY');

describe('player keyboard shortcuts', () => {
  it('maps Space, M and F (either case) on the page to play/pause, mute and full screen', () => {
    expect(shortcutFor(press(' '), body)).toBe('toggle-play');
    expect(shortcutFor(press('m'), body)).toBe('toggle-mute');
    expect(shortcutFor(press('M'), on('VIDEO'))).toBe('toggle-mute');
    expect(shortcutFor(press('f'), null)).toBe('toggle-fullscreen');
    expect(shortcutFor(press('k'), body)).toBeNull();
  });

  it('leaves modified keys, repeats and handled presses to the browser', () => {
    expect(shortcutFor(press('f', { ctrlKey: true }), body)).toBeNull();
    expect(shortcutFor(press('m', { metaKey: true }), body)).toBeNull();
    expect(shortcutFor(press('f', { altKey: true }), body)).toBeNull();
    expect(shortcutFor(press(' ', { repeat: true }), body)).toBeNull();
    expect(shortcutFor(press('m', { defaultPrevented: true }), body)).toBeNull();
  });

  it('never takes a letter typed into a text field', () => {
    for (const target of [on('INPUT', { type: 'text' }), on('INPUT', { type: 'password' }), on('TEXTAREA'), on('DIV', { isContentEditable: true })]) {
      expect(shortcutFor(press('m'), target)).toBeNull();
      expect(shortcutFor(press('f'), target)).toBeNull();
      expect(shortcutFor(press(' '), target)).toBeNull();
    }
  });

  it('lets Space activate the focused control, but M and F still work there', () => {
    for (const target of [on('BUTTON'), on('A'), on('INPUT', { type: 'radio' }), on('INPUT', { type: 'range' }), on('DIV', { role: 'button' })]) {
      expect(shortcutFor(press(' '), target)).toBeNull();
      expect(shortcutFor(press('m'), target)).toBe('toggle-mute');
      expect(shortcutFor(press('f'), target)).toBe('toggle-fullscreen');
    }
  });
});
