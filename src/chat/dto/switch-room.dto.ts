import { IsChatId } from './id.validators';

/** `{type:"switch_room", userId, roomId}`. */
export class SwitchRoomDto {
  @IsChatId()
  userId!: string;

  @IsChatId()
  roomId!: string;
}
