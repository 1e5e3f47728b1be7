# A boot sector that probes the disk view Cella's CD boot program (boot/src/cdboot.s) gives
# of a CD-ROM: the test in iso.rs puts it in an ISO's system area, where the boot program
# chain-loads it as it does bootloader's first stage. It prints on COM1 one line per check:
#
#   e CF AH BX CX        int 13h AH=41h, BX=55AAh (hex)
#   p CF AH SIZE         AH=48h: the bytes per sector it reports
#   r CF AH LBA COUNT HASH   AH=42h of each of `reads` (LBA, count, in 512-byte sectors)
#                            to BUFFER_SEGMENT:0, then HASH = (HASH rol 5) + byte over
#                            the count * 512 bytes there
#
# and then powers QEMU off through isa-debug-exit.

.intel_syntax noprefix
.code16

.set COM1, 0x3f8
.set DEBUG_EXIT, 0xf4
.set BUFFER_SEGMENT, 0x1000

.global _start
_start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    cld
    mov [drive], dl

    mov ah, 0x41
    mov bx, 0x55aa
    int 0x13
    push cx
    push bx
    mov al, 'e'
    call status
    pop ax
    call hex16
    pop ax
    call hex16
    call newline

    mov word ptr [parameters], 0x1a
    mov si, offset parameters
    mov ah, 0x48
    mov dl, [drive]
    int 0x13
    mov al, 'p'
    call status
    mov ax, [parameters + 0x18]
    call hex16
    call newline

    mov bx, offset reads
next_read:
    mov eax, [bx]
    cmp eax, -1
    je done
    mov [packet_lba], eax
    mov cx, [bx + 4]
    mov [packet_count], cx
    push bx
    push cx
    mov si, offset packet
    mov ah, 0x42
    mov dl, [drive]
    int 0x13
    mov al, 'r'
    call status
    mov eax, [packet_lba]
    shr eax, 16
    call hex16_
    mov ax, [packet_lba]
    call hex16
    pop cx
    mov ax, cx
    call hex16
    # HASH over cx * 512 bytes at BUFFER_SEGMENT:0 (at most 64 KiB).
    push ds
    mov ax, BUFFER_SEGMENT
    mov ds, ax
    shl cx, 9
    xor si, si
    xor edx, edx
1:  rol edx, 5
    movzx eax, byte ptr [si]
    add edx, eax
    inc si
    loop 1b
    pop ds
    mov eax, edx
    shr eax, 16
    call hex16_
    mov ax, dx
    call hex16
    call newline
    pop bx
    add bx, 6
    jmp next_read

done:
    mov dx, DEBUG_EXIT
    xor al, al
    out dx, al
2:  hlt
    jmp 2b

# Prints AL, CF (0 or 1) and AH, as flags and AH are on entry.
status:
    pushf
    push ax
    call put
    call space
    pop ax
    popf
    push ax
    setc al
    call hex8
    pop ax
    mov al, ah
    jmp hex8

hex16:
    call hex16_
    jmp space
hex16_:
    push ax
    mov al, ah
    call hex8_
    pop ax
    jmp hex8_
hex8:
    call hex8_
    jmp space
hex8_:
    push ax
    shr al, 4
    call nibble
    pop ax
nibble:
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe put
    add al, 'a' - '0' - 10
put:
    push dx
    mov dx, COM1
    out dx, al
    pop dx
    ret
space:
    mov al, ' '
    jmp put
newline:
    mov al, '\n'
    jmp put

# (LBA, count) in 512-byte sectors, ending with an LBA of all ones: the boot sector itself,
# runs that start and end inside CD sectors or cross them, and more than the boot program
# reads from the CD at once; last, one beyond the CD's end (SeaBIOS answers it, wrongly,
# with success: the test checks only that the boot program returns).
reads:
    .long 0
    .word 1
    .long 1
    .word 100
    .long 3
    .word 2
    .long 6
    .word 3
    .long 69
    .word 7
    .long 101
    .word 120
    .long 0x7ffffff0
    .word 1
    .long -1

packet:
    .byte 0x10, 0
packet_count:
    .word 0
    .word 0, BUFFER_SEGMENT
packet_lba:
    .quad 0
drive:
    .byte 0
parameters:
    .space 0x1a
