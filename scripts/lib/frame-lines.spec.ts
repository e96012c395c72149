import { describeFrame } from './frame-lines';

describe('describeFrame', () => {
  const at = '2026-12-01T10:00:00.000Z';
  const clock = new Date(at).toTimeString().slice(0, 8);

  it('prints a room event with its room, name and data', () => {
    const line = describeFrame({
      type: 'event',
      event: 'workspace.file_changed',
      roomId: 'workspace:w1',
      timestamp: at,
      data: { file_path: 'a.ts' },
    });
    expect(line).toBe(`${clock} [workspace:w1] event workspace.file_changed: {"file_path":"a.ts"}`);
  });

  it('prints a notification with its level, title and message', () => {
    const line = describeFrame({
      type: 'notification',
      timestamp: at,
      data: { title: 'Build', message: 'done', notification_type: 'success' },
    });
    expect(line).toBe(`${clock} ! success: Build: done`);
  });
});
