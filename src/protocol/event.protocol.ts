/**
 * The event half of the wire contract (seed 003): what the IDE's backends publish into rooms and
 * push to users. Room events are broadcast like chat (the room hub adds `offset` and `epoch`).
 */

export const EventMessageType = {
  /** A room event: `{type:"event", event:"<method>", roomId, offset, epoch, timestamp, data}`. */
  Event: 'event',
  /** A push to a user or to everyone: `{type:"notification", data:{…}, timestamp}`. */
  Notification: 'notification',
} as const;

export type NotificationLevel = 'info' | 'success' | 'warning' | 'error';

export interface NotificationData {
  title: string;
  message: string;
  /** The call's `type` (info, success, warning, error), named as seed 003's push names it. */
  notification_type: NotificationLevel;
  action_url?: string;
}

export const eventFrames = {
  /** Serialized once by the publisher; the hub splices the position in per delivery. */
  event: (event: string, roomId: string, data: object, at: Date): string =>
    JSON.stringify({
      type: EventMessageType.Event,
      event,
      roomId,
      timestamp: at.toISOString(),
      data,
    }),
  notification: (data: NotificationData, at: Date): string =>
    JSON.stringify({ type: EventMessageType.Notification, data, timestamp: at.toISOString() }),
};
