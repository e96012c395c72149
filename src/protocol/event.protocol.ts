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

export const NOTIFICATION_LEVELS = ['info', 'success', 'warning', 'error'] as const;
export type NotificationLevel = (typeof NOTIFICATION_LEVELS)[number];

export interface NotificationData {
  title: string;
  message: string;
  /** The call's `type` (info, success, warning, error), named as seed 003's push names it. */
  notification_type: NotificationLevel;
  action_url?: string;
}

/** A room event as delivered: the hub adds the room's `offset` and `epoch`. */
export interface EventFrame {
  type: typeof EventMessageType.Event;
  /** The name of the method that published it. */
  event: string;
  roomId: string;
  /** ISO-8601, from the server's clock. */
  timestamp: string;
  /** The publishing call's validated params. */
  data: object;
  offset?: number;
  epoch?: string;
}

/** A push to a user's connections (`notification.send`) or to every connection. */
export interface NotificationFrame {
  type: typeof EventMessageType.Notification;
  data: NotificationData;
  /** ISO-8601, from the server's clock. */
  timestamp: string;
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
    } satisfies EventFrame),
  notification: (data: NotificationData, at: Date): string =>
    JSON.stringify({
      type: EventMessageType.Notification,
      data,
      timestamp: at.toISOString(),
    } satisfies NotificationFrame),
};
