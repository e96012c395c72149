import {
  EventFrame,
  NOTIFICATION_LEVELS,
  NotificationData,
  NotificationFrame,
} from './event.protocol';
import { JsonSchema, objectSchema, ref } from './json-schema';

/* The schemas of the event frames, as tables of their interfaces (see chat.schemas.ts). */

export const EVENT_SCHEMAS = {
  NotificationData: objectSchema<NotificationData>('What a notification says.', {
    title: { type: 'string' },
    message: { type: 'string' },
    notification_type: { enum: NOTIFICATION_LEVELS },
    action_url: { type: 'string', optional: true },
  }),
  ServerEvent: objectSchema<EventFrame>('A room event; `data` is the publishing call’s params.', {
    type: { const: 'event' },
    event: { type: 'string', description: 'The publishing method’s name.' },
    roomId: ref('ChatId'),
    timestamp: { type: 'string', format: 'date-time' },
    data: { type: 'object', description: 'See the `…EventData` definition of `event`.' },
    offset: { type: 'integer', minimum: 0, optional: true },
    epoch: { type: 'string', optional: true },
  }),
  ServerNotification: objectSchema<NotificationFrame>('A push to a user or to everyone.', {
    type: { const: 'notification' },
    data: ref('NotificationData'),
    timestamp: { type: 'string', format: 'date-time' },
  }),
} satisfies Record<string, JsonSchema>;
