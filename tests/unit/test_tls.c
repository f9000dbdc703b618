/*
 * test_tls.c - TLS record walking, hello parsing, the TLS <= 1.2
 * ServerKeyExchange's curve, names, and JA3/JA3S/JA4 end to end on real
 * hellos.
 *
 * Vectors are one direction of a TCP stream from captures in shared/data,
 * cut after the hello (extracted with tshark tcp.payload). Expected values
 * are the peers' published ones:
 *   - Arkime tests/pcap/NAME.test (ja3, ja3string, ja3s, ja3sstring, ja4),
 *   - FoxIO ja4 rust snapshots / python output (ja4),
 *   - Suricata suricata-verify test.yaml (tls.ja4),
 *   - tshark 4.0.17 (ja3_full / ja3 / ja3s_full / ja3s) for the rest.
 * Two published values disagree with FoxIO's written JA4 spec and are
 * tested against the spec (see the comments at those rows).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/tls.h"

static const char v_tls12_c[] =
	"1603010102010000fe0303543dd3283283692d85f9416b5ccc65d2aafca45c6530b3c6eafbf6d371b6a015000094c030"
	"c02cc028c024c014c00a00a3009f006b006a0039003800880087c032c02ec02ac026c00fc005009d003d00350084c012"
	"c00800160013c00dc003000ac02fc02bc027c023c013c00900a2009e0067004000330032009a009900450044c031c02d"
	"c029c025c00ec004009c003c002f009600410007c011c007c00cc0020005000400150012000900140011000800060003"
	"00ff01000041000b000403000102000a000600040018001700230000000d002200200601060206030501050205030401"
	"040204030301030203030201020202030101000f000101";

static const char v_tls12_s[] =
	"160303003d020000390303543dd328b38b445686739d58fab733fa23838f575e0e5ad9a1b9baace6cc3b4100c02f0000"
	"11ff01000100000b00040300010200230000";

static const char v_chrome_c[] =
	"1603010200010001fc03030f9e38acb9a54a7c6e00e29a70ac2feee180ff76d7f25dca84932a66a42d1e5a20bc58b92f"
	"865e6b9aa4a6371cadcb0afe1da1c0f705209a11d52357f56d5dd9620020aaaa130113021303c02bc02fc02cc030cca9"
	"cca8c013c014009c009d002f0035010001939a9a0000ff010001000033002b00290a0a000100001d0020cf55af2603e9"
	"2f59eb321779706a18fa6b96b16c16404c2264ed687a59401878002d0002010100050005010000000044690005000302"
	"6832000d00120010040308040401050308050501080606010010000e000c02683208687474702f312e3100230000001b"
	"0003020002002b0007060a0a0304030300000022002000001d636c69656e7473657276696365732e676f6f676c656170"
	"69732e636f6d00120000000a000a00080a0a001d0017001800170000000b000201006a6a000100001500ba0000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000";

static const char v_chrome_s[] =
	"160303007a020000760303897c232e3ee313314f2b662307ff4f7e2cf1caeec1b27711bca77f469519168520bc58b92f"
	"865e6b9aa4a6371cadcb0afe1da1c0f705209a11d52357f56d5dd962130100002e00330024001d002076b8b7ed0f96b6"
	"3a773d85ab6f3a87a151c130529785b41a4defb53184055957002b00020304";

static const char v_nosni_c[] =
	"16030100af010000ab0303942d1fef575d770207c29dbe2401ccf05dcde1d2a5869c4a3eee38db551ad9bc000024c02b"
	"c02f009ec00ac009c013c014c007c011003300320039009c002f0035000a000500040100005eff01000100000a000800"
	"06001700180019000b00020100002300003374000000100014001208737064792f332e3108687474702f312e31755000"
	"0000050005010000000000120000000d0012001004010501020104030503020304020202";

static const char v_nosni_s[] =
	"160303003d02000039030354f9fc1577e433d32da82e9d38897d5a2628bfb09851dad9bd03f8afa209a4f000c02f0000"
	"11ff01000100000b00040300010200230000";

static const char v_h2_c[] =
	"16030100e8010000e40303858226c04fbaeddef4246093b4cfdab38f9dcfef145360e417686575cac49c7000005cc030"
	"c02cc028c024c014c00a009f006b0039cca9cca8ccaaff8500c400880081009d003d003500c00084c02fc02bc027c023"
	"c013c009009e0067003300be0045009c003c002f00ba0041c011c00700050004c012c0080016000a00ff0100005f0000"
	"001700150000127777772e636c6f7564666c6172652e636f6d000b00020100000a00080006001d00170018000d001c00"
	"1a06010603efef0501050304010403eeeeeded03010303020102030010000e000c02683208687474702f312e31";

static const char v_h2_s[] =
	"16030300640200006003035f0236c07f47bfb12dc2da706ecb3fe7f9eeac9968cc2ddf444f574e4752440120b89ff1ab"
	"695278c69b8a73f76242ef755e0b13dc6d459aaaa784fec9c2dfce34cca900001800000000ff01000100000b00020100"
	"001000050003026832";

static const char v_hrr_c[] =
	"1603010200010001fc0303809cf9e741f1f153153a6936d39f56e1300f198a6210ab6b14815700f613486d2043a66aee"
	"d2719b409a8204f4ea1a4aa88d04bd86b6a8da665f909971d195f5d700208a8a130113021303c02bc02fc02cc030cca9"
	"cca8c013c014009c009d002f0035010001937a7a000000170000ff0100010000230000002b000706eaea03040303002d"
	"00020101000d0012001004030804040105030805050108060601000500050100000000001b0003020002000a000a0008"
	"7a7a001d001700184469000500030268320010000e000c02683208687474702f312e310000000f000d00000a6d656d2e"
	"6766782e6d730033002b00297a7a000100001d002025832a7b089bf29602f1208fd1130717d238358d5b3c742bab7952"
	"3a2a238140000b0002010000120000caca000100001500cd000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000140303000101160303014b"
	"010001470303809cf9e741f1f153153a6936d39f56e1300f198a6210ab6b14815700f613486d2043a66aeed2719b409a"
	"8204f4ea1a4aa88d04bd86b6a8da665f909971d195f5d700208a8a130113021303c02bc02fc02cc030cca9cca8c013c0"
	"14009c009d002f0035010000de7a7a000000170000ff0100010000230000002b000706eaea03040303002d0002010100"
	"0d0012001004030804040105030805050108060601000500050100000000001b0003020002000a000a00087a7a001d00"
	"1700184469000500030268320010000e000c02683208687474702f312e310000000f000d00000a6d656d2e6766782e6d"
	"730033004700450017004104600bd9b55dc33d97abb5d8212f68e4da9a1c5bbb2af15b716a03766fa3ac197cd947c666"
	"3de4559c8cfa7706c80a48bfb5d83c328a35c81a85a970bd2030bc91000b0002010000120000caca000100";

static const char v_hrr_s[] =
	"1603030058020000540303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c2043a66aee"
	"d2719b409a8204f4ea1a4aa88d04bd86b6a8da665f909971d195f5d7130200000c002b00020304003300020017140303"
	"000101160303009b02000097030369a81183786728ec3068283366c222f059201eaaf1ba405e6ccea2ae2af14b332043"
	"a66aeed2719b409a8204f4ea1a4aa88d04bd86b6a8da665f909971d195f5d7130200004f002b00020304003300450017"
	"004104d2b8ad20a4342fb3af88d73eb165c8841537da23e804d611bc764030e9842a16c4630835361e814d8e20140744"
	"e549eaf53cfbbdbfc50f8e81e0bb0df073fb33";

static const char v_ech_c[] =
	"16030106bc010006b8030379c4ac065e1d80d1350600264f5b3ea2be8d7509a5b84b2fe55a74a5b86af85120da4a3599"
	"da1bc634b855913b42c9764934b861fbdf7e32c97c246205e4fc809200201a1a130113021303c02bc02fc02cc030cca9"
	"cca8c013c014009c009d002f00350100064f1a1a0000000d001200100403080404010503080505010806060100120000"
	"002d00020101001b0003020002fe0d00ba00000100014a0020cb670d956823e8f0910d73f44a9ffaf21acd68eba119cf"
	"2cfb949f41aaa98d450090a9d05d030d813edf3f8bf61e6296c367d19fdf7ad909f5aacef6a5df3bb8b775bd04e3fb4a"
	"7c2146350c9050ed077f052eb1973ecb38b32513a1d8ee0903ff293ed96c819c0f3204a345dfb2f2c291f3fd2054705c"
	"ea237a5b041d76c8f36a3bee0f9b59f04fdd116ae6636966c5bd8509406c2317cc46adf3730b3310b4d88d0d5f7fe6b4"
	"ad183ad8834ae6fb17cb8e002b0007069a9a03040303003304ef04ed3a3a00010011ec04c0ef37818f932f8f646b26e7"
	"0c85f431954969ec0036d58b4ec8fa6d10a2b2e1f2b7c31c7ab0fb541a68b3d607498da951ee6a197d0c88930ac56d68"
	"43be57b10ba293df889ea173a4eac752df86312a230284298413675420f21fe32c3d354b1538779275a17d27da09036b"
	"68f1b7ae9f6c74a941b940075915d85f64a1a81d55c363aba766c08a5a44ab4bf755f61c2e896b4c6cb5770307997e80"
	"8bd58520597321d0b45055bb0c48ba23928553114421c0989d55f45fa9425903288a2139099165219b35cc48442d15a2"
	"69b366bd1b85b6ed1bc1dd76af52a1b13b156aad298633e0a6ac494b331b3d6714c94d6a2cd5d423e713c29d38c2f9b1"
	"2bffaa466483253f82705b7045b29c6569e93efe45cd16348efea19fe560c89c9311b0fca5e605b7b54bbeabd7c6df1b"
	"8c877a9717d4183f5a18b7390127184fb090437941a4f4416ac3811555c5bc365c0685225da5d8b9b4870afe83b115b4"
	"1f1b83b00ff952c7d5abadc1302e5857e493b5a57b88596bc52d1c0bd46661312204edd2ad9ed554106a7c6093bb8a34"
	"6718520fb00a34c18262e44b1104d36a71c9b14f315b767a2a23e9abe1f87e88c3617548482c9c13a7174f18530a2667"
	"8e50a05d8ab35f651a8213973df098c3e0741d86164080dc06602914618b328b89a6bccc375be202e3886577725f5c31"
	"c7f928cf6a7bcb2d28b697978c6b48ae82f777ebd14b19c57949d43e7bc7cf5648104f840f370064b9a16deee2c69931"
	"1368965f8fa6060dc8b2823262fc479b07ea965abc95e03c745a42b75c9195bae067b1e711d7d641ea62c2aed720fa6c"
	"4c6b3647fc3111f6270b8cf5b45b0286d82773b9064fd1c71cf2f421555397c4cbcd09336c3054ab5783231495675e73"
	"1dd5ab86f9f0845bdcaecbd060c6854616e74e31599051b65c99e91376d1a593b9194873307c502f6154311370c84621"
	"0f5c1497e3c9957bf63e2495a69f51857d163a1cc92e3b89c887656e8f3c63b51b398ea76c447b23229c892b0b5436e0"
	"12f2a8995a93633e86276824561d009c55c4636edc2eadbb74ebea1bc60b8710cc80f4615fbb8a2b0d58c5e54a888182"
	"28385875221cba75982d54ab12c7109de4732b2311bb7f61317481ce5a6090bd48c303d5613a0a7c3eb465043b1058b1"
	"05dda4924e697ebac00316201bf359527675990c1abe9823ae67222280b65172756cfb4947ce46876c722ed07bad0f99"
	"140d564753f4187151678e463e32d53ac9db198afa8ce7584afb6864a1e94353007c86b743aa7533fcbb1593db368d19"
	"47b53681a2884d711bcdb18919c9acaa0cd5ca8e06c00f7a60eea9b6ef517af302118fd0890433cdc616100927a64fd5"
	"42d6633d4b15c8843a7ef249c53b5c2ead5216559178066b93a4564d10b550070c0d7f724a39397aa99b5f908b21c92a"
	"b7aa601c6ec030ed741a93010a4df357da5caec5393f19b6a43bc28eac110ede597653a343f25a6efa853623d36cc1c3"
	"38c5a777160bb8f1e60a36116dedf68c3c951feb5722c1372e68b5b310c03b45b000af8999d417b3aa74abece85974a3"
	"0d19f040cd1911411b741c60657711b2868a97df68544d0a7682a9012a06bb8ed12767184014edaf45491bc86e2ed71a"
	"8aaf81baecfa07ed2556cc89bb0256eaa2c1c4f99d8d416c1ed2cec99bcedfc24e3f715d4d28e5e51a2d9a868ca4391f"
	"3505f7677e001d0020d8a47011d55ff37f7286201bd839c4da25f58495dc4b70dc6e25dff220da122500000018001600"
	"0013636c69656e7473322e676f6f676c652e636f6d000b0002010000230000000500050100000000001700000010000e"
	"000c02683208687474702f312e31000a000c000a3a3a11ec001d00170018ff01000100446900050003026832baba0001"
	"00";

static const char v_ech_s[] =
	"16030304ba020004b60303275a75d32c190eccd30c2269169f11730b778a8c48068d33106ed5f2cc2619b620da4a3599"
	"da1bc634b855913b42c9764934b861fbdf7e32c97c246205e4fc8092130100046e0033046411ec0460c9e4ae88767957"
	"b7c49b9a03b56f2eed74d99125843dfbedcaa03935694abd162323ea70791cc29a28465b4b480ec0ec2d51aef2278223"
	"b5c805e318370ced667a16cf44187ddf8e4baede363cebf9da37260bbba5374293d0cae065ba74848e878e3447f1fbbd"
	"38c7f95b1f88a3394008fa93f4c7df2d5d4887ac8242a3cce3a202e337b55b59b9b574985742ed10b8f283663d9233b2"
	"bdf01f9d00b68c8d333684d27b352ee2e7bb6b2c4b5939414b63e31d67f6e0960f53e518660a5019c1877f4f312beec0"
	"bb54fd2e6c0a9d6480e0f801e07d193120d0d19f3616f2421b7a571b208e51a9fbdc7fbfd527e25c22da477d5d2183b7"
	"18b8ed186ac3ba17bbe45c3b78a133f8da3915155fc6cb5dc97f149573427fffabcbb1cfe1f2634818c2d47157227f77"
	"34443f52675275789bff464b52faab6514c5a4d700c256ce1b0c507ac710147e2486ad05d4d3a01c1d41d0221cc517d0"
	"759c6447550b121b64c43d85428ecf23425838c1d10fd415332de21844425f54b13f0b5cb7c4e2d8451b5f4bacaa09ee"
	"50fd6599250b7018dde4d68434dd1ee018c8a0fe6483e7bbeaec90dde224ebc98ac482250d6b3d008e1d3eb2ac34ce81"
	"4507210741a0c434a480e38027890aa60402c8d730c212cee50a4baafcadf6123cecd6880ea7c7f6cd8ea73e1179b934"
	"7cf96f1431f60998ba3b5e0e4dbcbedc3a6aa4249ee851f8fa0d7914857cf5e5b100c6c4ccb597bc43e00e574b6432f5"
	"b560c7ad9ce08549bbba4dcef520a8391e0f0ff37d830cf36bc9888fe58ccadeb5d66adc4d6c5884bdc400456b3b0c4b"
	"de952be6a300fc6c847d39282fab4fa48887b5b50378fec3d096bfd7cee897984c3a7c568c308ebd6fb098abf43c4519"
	"994e75c1180d43c11230896222fcd9f6e58eed783b466f7bc7799c87c14d5519486728a9372a8155ae6dae5bdb1f3724"
	"a012011902a621cbfda017eb96b713432e38d0bd3d3150ff7ce1b563d807c6298d9743eadb91cd30520e80750cdad815"
	"55b133c00824c289952cf7b3a64bc44752a234b720b4851496bac226f70629970af07811e2d1e045d256c31e2da66cd8"
	"f96a3aae21d7ea7f04accc1139405410c4a9a7fae4cf0c1be53df3427d63e3745fae7af6c45789dcd2b834d4360240ee"
	"58001ac2085878e91c0b801e7bd7cd475554aca949a5f811a9d8b576199151cf883b293227352f39a61e99eec9ded712"
	"b80dc75df3435d0d9c69009409c06ebe9d55ebcfb167705759ddb69608dd942554cca6d2b360729b0e67592e1c3f9cb7"
	"724c07827492436d69923ac37c3ddca42ceb8f35377af438fdbde7041e4db0d5e4ed187aef5482bb0bd981e3da9fb392"
	"4d220a5448a90dd172ae0f04e4fc5ea2caae9a3b7518f0d28399e5451548aed311f581987170cc77b547c3b08e6a8490"
	"165dd75c1297c83012e5c13192ba417b0a6887bff979f61bf0ef97837115900df11ca69f3cd7cd03c504154b14967dd2"
	"c4b7fc9782b9e8a49ba4a1d15e3e9ce1069d07fe7eabdcfae34f58a533fdd452b091c7fdc456b93c153460c57c458641"
	"4424b345f60d9c7927002b00020304";

static const char v_oddalpn_c[] =
	"1603010200010001fc03030f9e38acb9a54a7c6e00e29a70ac2feee180ff76d7f25dca84932a66a42d1e5a20bc58b92f"
	"865e6b9aa4a6371cadcb0afe1da1c0f705209a11d52357f56d5dd9620020aaaa130113021303c02bc02fc02cc030cca9"
	"cca8c013c014009c009d002f0035010001939a9a0000ff010001000033002b00290a0a000100001d0020cf55af2603e9"
	"2f59eb321779706a18fa6b96b16c16404c2264ed687a59401878002d0002010100050005010000000044690005000302"
	"6832000d00120010040308040401050308050501080606010010000e000c02baad08687474702f312e3100230000001b"
	"0003020002002b0007060a0a0304030300000022002000001d636c69656e7473657276696365732e676f6f676c656170"
	"69732e636f6d00120000000a000a00080a0a001d0017001800170000000b000201006a6a000100001500ba0000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000";

static const char v_ssl3_c[] =
	"1603000087010000830300543dd2a9b2d759f7c4cf6430ebccf736589b78b89db50d59af82a6c0acfba0b100005cc014"
	"c00a0039003800880087c00fc00500350084c012c00800160013c00dc003000ac013c00900330032009a009900450044"
	"c00ec004002f009600410007c011c007c00cc002000500040015001200090014001100080006000300ff0100";

static const char v_ssl3_s[] =
	"16030000510200004d0300543dd2aacf161736fca81bb8b5ee589e141b160080a702c8e12e814f7203df8c2095c3c5ac"
	"6f647c1b7214c7bcf4387b6f34819f9f17095c690caafbdbcf6a36ecc011000005ff01000100";

static const char v_draft18_c[] =
	"1603010200010001fc03034355d402c132771a9386b6e9994ae37069e0621af504c26673b1343843c21d8d0000264a4a"
	"130113021303c02bc02fc02cc030cca9cca8cc14cc13c013c014009c009d002f0035000a010001addada0000ff010001"
	"00000000180016000013626c6f672e636c6f7564666c6172652e636f6d0017000000230000000d001400120403080404"
	"01050308050501080606010201000500050100000000001200000010000e000c02683208687474702f312e3175500000"
	"000b000201000028002b00295a5a000100001d0020cf78b9167af054b922a96752b43973107b2a57766357dd288b2b42"
	"ab5df30e08002d00020101002b000b0acaca7f12030303020301000a000a00085a5a001d001700180a0a000100001500"
	"e40000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000";

static const char v_draft18_s[] =
	"16030100520200004e7f123ef1609fd3f4fa8668aac5822d500fb0639b22671d0fb7258597355795511bf61301002800"
	"280024001d0020ae0e282a3b7a463e71064ecbaf671586e979b0edbebf7a4735c31678c70f660c";

static const char v_tls10_c[] =
	"16030100630100005f0301637f446dcd85125fd92500d38403dd1ea1215aae7ecc05fd6e749fe7bb73104300000ec00a"
	"c009c014c0130035002f000a01000028000500050100000000000a00080006001d00170018000b000201000023000000"
	"170000ff01000100";

struct vec {
	const char *name;
	const char *client, *server;
	unsigned ch_index;          /* which handshake message is the ClientHello */
	const char *ja3, *ja3_md5, *ja4;
	const char *sni;            /* NULL: no SNI */
	const char *alpn;           /* joined list, "" when none */
	bool ech;
	uint16_t legacy_version;
	const char *ja3s, *ja3s_md5;
	const char *version, *cipher; /* negotiated, as CloudTrail spells them */
	bool hrr;
};

static const struct vec vecs[] = {
	/* arkime openssl-tls1_2.pcap: TLS 1.2, no SNI, no ALPN, 74 ciphers */
	{"tls12", v_tls12_c, v_tls12_s, 0,
	 "771,49200-49196-49192-49188-49172-49162-163-159-107-106-57-56-136-135-49202-49198-49194-"
	 "49190-49167-49157-157-61-53-132-49170-49160-22-19-49165-49155-10-49199-49195-49191-49187-"
	 "49171-49161-162-158-103-64-51-50-154-153-69-68-49201-49197-49193-49189-49166-49156-156-60-"
	 "47-150-65-7-49169-49159-49164-49154-5-4-21-18-9-20-17-8-6-3-255,11-10-35-13-15,24-23,0-1-2",
	 "c1a36e1a870786cc75edddc0009eaf3a", "t12i740500_c43983326036_3eafcbe19126", NULL, "", false,
	 0x0303, "771,49199,65281-11-35", "ccc514751b175866924439bdbb5bba34", "TLSv1.2",
	 "ECDHE-RSA-AES128-GCM-SHA256", false},
	/* foxio tls-handshake.pcapng stream 0: Chrome, TLS 1.3, GREASE (tshark ja3, FoxIO ja4) */
	{"chrome13", v_chrome_c, v_chrome_s, 0,
	 "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
	 "65281-51-45-5-17513-13-16-35-27-43-0-18-10-23-11-21,29-23-24,0",
	 "1c258ebef8eee2dfa3df6d8d07285af9", "t13d1516h2_8daaf6152771_e5627efa2ab1",
	 "clientservices.googleapis.com", "h2,http/1.1", false, 0x0303, "771,4865,51-43",
	 "eb1d94daa7e0344597e756a1fb6e7054", "TLSv1.3", "TLS_AES_128_GCM_SHA256", false},
	/* suricata-verify ja4-tls: TLS 1.2 without SNI (Suricata tls.ja4) */
	{"nosni", v_nosni_c, v_nosni_s, 0,
	 "771,49195-49199-158-49162-49161-49171-49172-49159-49169-51-50-57-156-47-53-10-5-4,"
	 "65281-10-11-35-13172-16-30032-5-18-13,23-24-25,0",
	 "308b0bd904abbef5e0034a1ff7a78920", "t12i1810s1_27d4652c4487_06a4338d0495", NULL,
	 "spdy/3.1,http/1.1", false, 0x0303, "771,49199,65281-11-35", "ccc514751b175866924439bdbb5bba34",
	 "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", false},
	/* arkime tls-alpn-h2.pcap: ALPN h2 chosen by the server */
	{"alpn_h2", v_h2_c, v_h2_s, 0,
	 "771,49200-49196-49192-49188-49172-49162-159-107-57-52393-52392-52394-65413-196-136-129-157-"
	 "61-53-192-132-49199-49195-49191-49187-49171-49161-158-103-51-190-69-156-60-47-186-65-49169-"
	 "49159-5-4-49170-49160-22-10-255,0-11-10-13-16,29-23-24,0",
	 "3faa4ad39f690c4ef1c3160caa375465", "t12d4605h2_85626a9a5f7f_aaf95bb78ec9", "www.cloudflare.com",
	 "h2,http/1.1", false, 0x0303, "771,52393,0-65281-11-16", "7f76f3e952a1bc7d407366fafe1db7ed",
	 "TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
	/* foxio tls-handshake.pcapng stream 45: HelloRetryRequest. The FIRST
	 * ClientHello is fingerprinted (FoxIO rust snapshot / python JA4.1). */
	{"hrr", v_hrr_c, v_hrr_s, 0,
	 "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
	 "23-65281-35-43-45-13-5-27-10-17513-16-0-51-11-18-21,29-23-24,0",
	 "222e07daddc89ed3b29aec7bf63ddd76", "t13d1516h2_8daaf6152771_e5627efa2ab1", "mem.gfx.ms",
	 "h2,http/1.1", false, 0x0303, "771,4866,43-51", "15af977ce25de452b96affa2addb1036", "TLSv1.3",
	 "TLS_AES_256_GCM_SHA384", true},
	/* arkime tls-split-client-hello.pcap: ECH (0xfe0d), X25519Kyber768, the
	 * hello split over two TCP segments */
	{"ech_split", v_ech_c, v_ech_s, 0,
	 "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
	 "13-18-45-27-65037-43-51-0-11-35-5-23-16-10-65281-17513,4588-29-23-24,0",
	 "35708a08e7be9f7aa5bce7f2d5c1cecb", "t13d1516h2_8daaf6152771_02713d6af862",
	 "clients2.google.com", "h2,http/1.1", true, 0x0303, "771,4865,51-43",
	 "eb1d94daa7e0344597e756a1fb6e7054", "TLSv1.3", "TLS_AES_128_GCM_SHA256", false},
	/* foxio tls-non-ascii-alpn.pcapng: first ALPN is 0xba 0xad. FoxIO's
	 * published outputs (rust + python at 0e54bc8) say "99" (an older
	 * rule); the JA4 spec ("ALPN Extension Value": first hex digit of the
	 * first byte, last hex digit of the last byte) gives "bd". */
	{"odd_alpn", v_oddalpn_c, NULL, 0,
	 "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
	 "65281-51-45-5-17513-13-16-35-27-43-0-18-10-23-11-21,29-23-24,0",
	 "1c258ebef8eee2dfa3df6d8d07285af9", "t13d1516bd_8daaf6152771_e5627efa2ab1",
	 "clientservices.googleapis.com", "\xba\xad,http/1.1", false, 0x0303, NULL, NULL, NULL, NULL, false},
	/* arkime openssl-ssl3.pcap: SSL 3.0, no extensions at all */
	{"ssl3", v_ssl3_c, v_ssl3_s, 0,
	 "768,49172-49162-57-56-136-135-49167-49157-53-132-49170-49160-22-19-49165-49155-10-49171-"
	 "49161-51-50-154-153-69-68-49166-49156-47-150-65-7-49169-49159-49164-49154-5-4-21-18-9-20-"
	 "17-8-6-3-255,,,",
	 "f917ae2520ef9784557b0a3c02489c2c", "ts3i460000_234845559c90_000000000000", NULL, "", false,
	 0x0300, "768,49169,65281", "59e3f99fd4b68388f5ba9349e0ca71a4", "SSLv3", "ECDHE-RSA-RC4-SHA", false},
	/* arkime tls13.pcap: TLS 1.3 draft-18 (JA4 version "00"), draft ServerHello format */
	{"draft18", v_draft18_c, v_draft18_s, 0,
	 "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-52244-52243-49171-49172-156-157-47-"
	 "53-10,65281-0-23-35-13-5-18-16-30032-11-40-45-43-10-21,29-23-24,0",
	 "4826a90ec2daf4f7b4b64cc1c8bd343b", "t00d1815h2_a30347de7a75_2a77702ff8e0",
	 "blog.cloudflare.com", "h2,http/1.1", false, 0x0303, "32530,4865,40",
	 "b8a8031b301aef7618403061e9f33065", "TLSv1.3-draft18", "TLS_AES_128_GCM_SHA256", false},
	/* suricata-verify bug-5713-01: TLS 1.0, no signature_algorithms. Suricata
	 * publishes ..._ce66f3b797c1, the hash of the list WITH a trailing '_';
	 * the JA4 spec says "the string ends without an underscore", which
	 * gives c39ab67fec8e. */
	{"tls10_nosigalgs", v_tls10_c, NULL, 0,
	 "769,49162-49161-49172-49171-53-47-10,5-10-11-35-23-65281,29-23-24,0",
	 "49ed2ef3f1321e5f044f1e71b0e6fdd5", "t10i070600_c50f5591e341_c39ab67fec8e", NULL, "", false,
	 0x0301, NULL, NULL, NULL, NULL, false},
};

#define NVECS (sizeof(vecs) / sizeof(vecs[0]))
#define MSG_CAP 65536u

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes a hex literal into a fresh heap buffer. */
static uint8_t *unhex(const char *s, size_t *len)
{
	size_t n = strlen(s) / 2;
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		b[i] = (uint8_t)(hi * 16 + lo);
	}
	*len = n;
	return b;
}

/* Finds message idx of a stream and parses it as a hello. */
static void get_hello(const char *hex, unsigned idx, struct cid_tls_hello *h)
{
	size_t len, msg_len, need;
	uint8_t *stream = unhex(hex, &len), *msg = malloc(MSG_CAP), type;
	assert_non_null(msg);
	assert_int_equal(cid_tls_find_handshake(stream, len, idx, &type, msg, MSG_CAP, &msg_len, &need), CID_OK);
	if (type == CID_TLS_HS_CLIENT_HELLO)
		assert_int_equal(cid_tls_parse_client_hello(h, msg, msg_len), CID_OK);
	else
		assert_int_equal(cid_tls_parse_server_hello(h, msg, msg_len), CID_OK);
	free(stream);
	free(msg);
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];
		struct cid_tls_hello *h = malloc(sizeof(*h));
		char str[CID_JA3_MAX], md5[33], ja4[CID_JA4_LEN];

		assert_non_null(h);
		print_message("# vector %s\n", v->name);
		get_hello(v->client, v->ch_index, h);
		assert_int_equal(h->hs_type, CID_TLS_HS_CLIENT_HELLO);
		assert_int_equal(h->legacy_version, v->legacy_version);
		assert_true(cid_ja3(h, str, sizeof(str), md5));
		assert_string_equal(str, v->ja3);
		assert_string_equal(md5, v->ja3_md5);
		cid_ja4(h, 't', ja4);
		assert_string_equal(ja4, v->ja4);
		assert_int_equal(h->has_sni, v->sni != NULL);
		if (v->sni)
			assert_string_equal(h->sni, v->sni);
		assert_false(h->sni_truncated);
		assert_string_equal(h->alpn, v->alpn);
		assert_int_equal(h->ech, v->ech);
		assert_false(h->lists_truncated);
		if (v->server) {
			get_hello(v->server, 0, h);
			assert_int_equal(h->hs_type, CID_TLS_HS_SERVER_HELLO);
			assert_true(cid_ja3s(h, str, sizeof(str), md5));
			assert_string_equal(str, v->ja3s);
			assert_string_equal(md5, v->ja3s_md5);
			assert_string_equal(cid_tls_version_name(cid_tls_negotiated_version(h)), v->version);
			assert_string_equal(cid_tls_cipher_name(h->ciphers[0]), v->cipher);
			assert_int_equal(h->hrr, v->hrr);
		}
		free(h);
	}
}

/* HelloRetryRequest details: the HRR names the group in key_share, the
 * second ClientHello (index 1, after a ChangeCipherSpec) has its own JA4
 * (FoxIO python JA4.2), the second ServerHello is a real one. */
static void test_hrr(void **state)
{
	struct cid_tls_hello *h = malloc(sizeof(*h));
	char ja4[CID_JA4_LEN], str[CID_JA3_MAX], md5[33];
	(void)state;
	assert_non_null(h);

	get_hello(v_hrr_s, 0, h);
	assert_true(h->hrr);
	assert_int_equal(h->num_key_share, 1);
	assert_string_equal(cid_tls_group_name(h->key_share[0]), "secp256r1");
	assert_int_equal(cid_tls_negotiated_version(h), 0x0304);

	get_hello(v_hrr_c, 1, h);
	cid_ja4(h, 't', ja4);
	assert_string_equal(ja4, "t13d1515h2_8daaf6152771_f37e75b10bcc");
	assert_true(cid_ja3(h, str, sizeof(str), md5));
	assert_string_equal(md5, "d655202faea1b7be40411ef04b5ed649"); /* tshark, second CH */

	get_hello(v_hrr_s, 1, h);
	assert_false(h->hrr);
	assert_int_equal(h->num_key_share, 1);
	assert_string_equal(cid_tls_group_name(h->key_share[0]), "secp256r1");
	free(h);
}

/* Field-level checks of the Chrome hello and its ServerHello. */
static void test_fields(void **state)
{
	struct cid_tls_hello *h = malloc(sizeof(*h));
	(void)state;
	assert_non_null(h);
	get_hello(v_chrome_c, 0, h);
	assert_int_equal(h->num_ciphers, 16);
	assert_true(cid_tls_is_grease(h->ciphers[0])); /* GREASE kept in wire order */
	assert_int_equal(h->ciphers[1], 0x1301);
	assert_true(cid_tls_is_grease(h->exts[0]));
	assert_int_equal(h->num_versions, 3);
	assert_int_equal(h->versions[1], 0x0304);
	assert_int_equal(h->num_key_share, 2);
	assert_int_equal(h->key_share[1], 0x001d);
	assert_int_equal(h->num_groups, 4);
	assert_int_equal(h->num_point_formats, 1);
	assert_int_equal(h->num_sig_algs, 8);
	assert_int_equal(h->sig_algs[0], 0x0403);
	assert_int_equal(h->num_alpn, 2);
	assert_int_equal(h->alpn_first_len, 2);
	assert_memory_equal(h->alpn_first, "h2", 2);
	assert_int_equal(h->session_id_len, 32);
	assert_int_equal(h->sni_len, strlen("clientservices.googleapis.com"));

	get_hello(v_h2_s, 0, h);
	assert_string_equal(h->alpn, "h2");
	assert_int_equal(h->num_versions, 0);
	assert_int_equal(cid_tls_negotiated_version(h), 0x0303);
	get_hello(v_chrome_s, 0, h);
	assert_int_equal(h->num_key_share, 1);
	assert_string_equal(cid_tls_group_name(h->key_share[0]), "x25519");
	assert_int_equal(h->compression, 0);
	free(h);
}

/* Every prefix of every stream: the walker never claims a message it does
 * not have, asks for more than it has, and never asks past the message's
 * end; every prefix of the hello body parses without crashing and only
 * succeeds where a hello may legally end (no extensions block). */
static void sweep_stream(const char *hex)
{
	size_t len, msg_len, need, full_need = 0;
	uint8_t *stream = unhex(hex, &len), *msg = malloc(MSG_CAP), type;
	struct cid_tls_hello *h = malloc(sizeof(*h));
	assert_non_null(msg);
	assert_non_null(h);

	for (size_t k = 0; k < len; k++) {
		enum cid_status st = cid_tls_find_handshake(stream, k, 0, &type, msg, MSG_CAP, &msg_len, &need);
		if (st == CID_OK) {
			/* only once the whole first message is there */
			full_need = full_need ? full_need : k;
			continue;
		}
		assert_int_equal(st, CID_TRUNCATED);
		assert_true(need > k);
		assert_true(need <= len);
	}
	assert_int_equal(cid_tls_find_handshake(stream, len, 0, &type, msg, MSG_CAP, &msg_len, &need), CID_OK);
	for (size_t k = 0; k < msg_len; k++) {
		enum cid_status st = type == CID_TLS_HS_CLIENT_HELLO ? cid_tls_parse_client_hello(h, msg, k)
								  : cid_tls_parse_server_hello(h, msg, k);
		if (st == CID_OK)
			assert_int_equal(h->num_exts, 0);
		else
			assert_int_equal(st, CID_MALFORMED);
	}
	free(stream);
	free(msg);
	free(h);
}

static void test_truncation_sweep(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		sweep_stream(vecs[i].client);
		if (vecs[i].server)
			sweep_stream(vecs[i].server);
	}
}

/* The caller's loop: wait for *need bytes, call again. It must finish in a
 * handful of calls, never byte by byte. */
static void test_incremental(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		size_t len, have = 1, msg_len, need, calls = 0;
		uint8_t *stream = unhex(vecs[i].client, &len), *msg = malloc(MSG_CAP), type;
		enum cid_status st;
		assert_non_null(msg);
		while ((st = cid_tls_find_handshake(stream, have, vecs[i].ch_index, &type, msg, MSG_CAP,
						    &msg_len, &need)) == CID_TRUNCATED) {
			assert_true(need > have);
			have = need;
			calls++;
		}
		assert_int_equal(st, CID_OK);
		assert_true(calls <= 8);
		free(stream);
		free(msg);
	}
}

/* Re-frames the Chrome hello into records of `frag` bytes (with a CCS in
 * front and after the first fragment): same hello, same JA4. */
static void test_refragment(void **state)
{
	static const size_t frags[] = {1, 2, 3, 7, 100, 511, 16384};
	size_t len, msg_len, need;
	uint8_t *stream = unhex(v_chrome_c, &len), *msg = malloc(MSG_CAP), type;
	struct cid_tls_hello *h = malloc(sizeof(*h));
	char ja4[CID_JA4_LEN];
	(void)state;
	assert_non_null(msg);
	assert_non_null(h);
	/* the handshake bytes: the single record's body */
	assert_int_equal(stream[0], 22);
	for (size_t f = 0; f < sizeof(frags) / sizeof(frags[0]); f++) {
		size_t body = len - 5, cap = body * 6 + 64, n = 0;
		uint8_t *out = malloc(cap);
		assert_non_null(out);
		memcpy(out + n, "\x14\x03\x03\x00\x01\x01", 6);
		n += 6;
		for (size_t off = 0; off < body; off += frags[f]) {
			size_t k = body - off < frags[f] ? body - off : frags[f];
			out[n++] = 22;
			out[n++] = 3;
			out[n++] = 1;
			out[n++] = (uint8_t)(k >> 8);
			out[n++] = (uint8_t)k;
			memcpy(out + n, stream + 5 + off, k);
			n += k;
			if (off == 0 && k < body) {
				memcpy(out + n, "\x14\x03\x03\x00\x01\x01", 6);
				n += 6;
			}
		}
		assert_int_equal(cid_tls_find_handshake(out, n, 0, &type, msg, MSG_CAP, &msg_len, &need), CID_OK);
		assert_int_equal(cid_tls_parse_client_hello(h, msg, msg_len), CID_OK);
		cid_ja4(h, 't', ja4);
		assert_string_equal(ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
		/* every prefix of the re-framed stream */
		for (size_t k = 0; k < n; k++) {
			enum cid_status st = cid_tls_find_handshake(out, k, 0, &type, msg, MSG_CAP, &msg_len, &need);
			assert_int_equal(st, CID_TRUNCATED);
			assert_true(need > k && need <= n);
		}
		free(out);
	}
	free(stream);
	free(msg);
	free(h);
}

struct walk_case {
	const char *name;
	const uint8_t *p;
	size_t len;
	unsigned index;
	size_t out_cap;
	enum cid_status want;
	size_t want_need; /* checked when want == CID_TRUNCATED */
};

static void test_record_walk(void **state)
{
	/* SSLv2-format ClientHello (RFC 5246 E.2) */
	static const uint8_t v2[] = {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15};
	static const uint8_t v2_other[] = {0x80, 0x2e, 0x04, 0x00};
	static const uint8_t http[] = "GET / HTTP/1.1\r\n";
	static const uint8_t badver[] = {22, 2, 0, 0, 4, 1, 0, 0, 0};
	static const uint8_t toolong[] = {22, 3, 3, 0x48, 0x01, 1};
	static const uint8_t fatal[] = {21, 3, 3, 0, 2, 2, 40};
	static const uint8_t appdata[] = {23, 3, 3, 0, 1, 0};
	/* warning alert, then an empty-bodied handshake message (type 14) */
	static const uint8_t warn_then_hs[] = {21, 3, 3, 0, 2, 1, 112, 22, 3, 3, 0, 4, 14, 0, 0, 0};
	/* two messages in one record; the second (index 1) is a 3-byte body */
	static const uint8_t two[] = {22, 3, 3, 0, 11, 14, 0, 0, 0, 2, 0, 0, 3, 0xaa, 0xbb, 0xcc};
	static const uint8_t big[] = {22, 3, 3, 0, 8, 1, 0, 0, 4, 0, 0, 0, 0};
	/* header of a message split 2+2 over two records */
	static const uint8_t split_hdr[] = {22, 3, 3, 0, 2, 2, 0, 22, 3, 3, 0, 3, 0, 1, 0x55};
	const struct walk_case cases[] = {
		{"empty", v2, 0, 0, 64, CID_TRUNCATED, 5},
		{"sslv2 1 byte", v2, 1, 0, 64, CID_TRUNCATED, 3},
		{"sslv2", v2, sizeof(v2), 0, 64, CID_UNSUPPORTED, 0},
		{"sslv2 not hello", v2_other, sizeof(v2_other), 0, 64, CID_MALFORMED, 0},
		{"http", http, sizeof(http) - 1, 0, 64, CID_MALFORMED, 0},
		{"record version 2.0", badver, sizeof(badver), 0, 64, CID_MALFORMED, 0},
		{"record too long", toolong, sizeof(toolong), 0, 64, CID_MALFORMED, 0},
		{"fatal alert", fatal, sizeof(fatal), 0, 64, CID_UNSUPPORTED, 0},
		{"application data", appdata, sizeof(appdata), 0, 64, CID_UNSUPPORTED, 0},
		{"alert level missing", fatal, 5, 0, 64, CID_TRUNCATED, 6},
		{"warning alert skipped", warn_then_hs, sizeof(warn_then_hs), 0, 64, CID_OK, 0},
		{"second message", two, sizeof(two), 1, 64, CID_OK, 0},
		{"third message: none yet", two, sizeof(two), 2, 64, CID_TRUNCATED, sizeof(two) + 5},
		{"partial body asks for its end", two, 14, 1, 64, CID_TRUNCATED, 16},
		{"message over out_cap", big, sizeof(big), 0, 3, CID_UNSUPPORTED, 0},
		{"message fits out_cap", big, sizeof(big), 0, 4, CID_OK, 0},
		{"header split over records", split_hdr, sizeof(split_hdr), 0, 64, CID_OK, 0},
	};
	uint8_t out[64], type;
	size_t out_len, need;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct walk_case *c = &cases[i];
		enum cid_status st;
		print_message("# walk %s\n", c->name);
		st = cid_tls_find_handshake(c->p, c->len, c->index, &type, out, c->out_cap, &out_len, &need);
		assert_int_equal(st, c->want);
		if (c->want == CID_TRUNCATED)
			assert_int_equal(need, c->want_need);
	}
	assert_int_equal(cid_tls_find_handshake(two, sizeof(two), 1, &type, out, sizeof(out), &out_len, &need),
			 CID_OK);
	assert_int_equal(type, 2);
	assert_int_equal(out_len, 3);
	assert_memory_equal(out, "\xaa\xbb\xcc", 3);
	assert_int_equal(cid_tls_find_handshake(split_hdr, sizeof(split_hdr), 0, &type, out, sizeof(out),
						&out_len, &need),
			 CID_OK);
	assert_int_equal(out_len, 1);
	assert_int_equal(out[0], 0x55);
}

/* ---- hostile ClientHellos built by hand ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(b, &x, 1);
}

static void put16(struct buf *b, size_t v)
{
	put8(b, (unsigned)(v >> 8) & 0xffu);
	put8(b, (unsigned)v & 0xffu);
}

/* A ClientHello body: TLS 1.2, zero random, no session id, ciphers, null
 * compression, then the given extensions block contents. */
static struct buf make_ch(size_t num_ciphers, const struct buf *exts)
{
	struct buf b = {NULL, 0, 0};
	static const uint8_t zero[32];
	put16(&b, 0x0303);
	put(&b, zero, 32);
	put8(&b, 0);
	put16(&b, num_ciphers * 2);
	for (size_t i = 0; i < num_ciphers; i++)
		put16(&b, 0xc02f);
	put8(&b, 1);
	put8(&b, 0);
	if (exts) {
		put16(&b, exts->len);
		put(&b, exts->p, exts->len);
	}
	return b;
}

static void put_ext(struct buf *e, unsigned type, const struct buf *body)
{
	put16(e, type);
	put16(e, body->len);
	put(e, body->p, body->len);
}

/* server_name with the given host_name entries */
static void put_sni(struct buf *e, const char *const *names, const size_t *lens, size_t n)
{
	struct buf list = {NULL, 0, 0}, body = {NULL, 0, 0};
	for (size_t i = 0; i < n; i++) {
		put8(&list, 0);
		put16(&list, lens[i]);
		put(&list, names[i], lens[i]);
	}
	put16(&body, list.len);
	put(&body, list.p, list.len);
	put_ext(e, 0, &body);
	free(list.p);
	free(body.p);
}

static enum cid_status parse_ch(struct cid_tls_hello *h, size_t num_ciphers, const struct buf *exts)
{
	struct buf ch = make_ch(num_ciphers, exts);
	enum cid_status st = cid_tls_parse_client_hello(h, ch.p, ch.len);
	free(ch.p);
	return st;
}

static void test_hostile(void **state)
{
	struct cid_tls_hello *h = malloc(sizeof(*h));
	struct buf e = {NULL, 0, 0};
	char ja4[CID_JA4_LEN];
	(void)state;
	assert_non_null(h);

	/* no extensions block at all: a valid TLS 1.0-style hello */
	assert_int_equal(parse_ch(h, 1, NULL), CID_OK);
	assert_int_equal(h->num_exts, 0);

	/* 10000 empty extensions: capped, flagged, JA4 count 99 */
	for (unsigned i = 0; i < 10000; i++) {
		put16(&e, 0x1234);
		put16(&e, 0);
	}
	assert_int_equal(parse_ch(h, 1, &e), CID_OK);
	assert_int_equal(h->num_exts, CID_TLS_MAX_EXTS);
	assert_true(h->lists_truncated);
	cid_ja4(h, 't', ja4);
	assert_memory_equal(ja4, "t12i0199", 8);

	/* 300 ciphers: capped at CID_TLS_MAX_CIPHERS */
	e.len = 0;
	assert_int_equal(parse_ch(h, 300, &e), CID_OK);
	assert_int_equal(h->num_ciphers, CID_TLS_MAX_CIPHERS);
	assert_true(h->lists_truncated);

	/* a 65000-byte host name: cut at CID_TLS_MAX_NAME - 1 */
	{
		char *name = malloc(65000);
		size_t n = 65000;
		const char *names[1];
		assert_non_null(name);
		memset(name, 'a', n);
		names[0] = name;
		e.len = 0;
		put_sni(&e, names, &n, 1);
		assert_int_equal(parse_ch(h, 1, &e), CID_OK);
		assert_true(h->has_sni);
		assert_true(h->sni_truncated);
		assert_int_equal(h->sni_len, CID_TLS_MAX_NAME - 1);
		assert_int_equal(strlen(h->sni), CID_TLS_MAX_NAME - 1);
		free(name);
	}

	/* duplicate host_name entries and a duplicate extension: first wins;
	 * control bytes and non-ASCII are kept raw */
	{
		const char *names[] = {"\x01\x7f\xff.example", "second.example"};
		size_t lens[] = {strlen(names[0]), strlen(names[1])};
		const char *other[] = {"third.example"};
		size_t olen[] = {strlen(other[0])};
		e.len = 0;
		put_sni(&e, names, lens, 2);
		put_sni(&e, other, olen, 1);
		assert_int_equal(parse_ch(h, 1, &e), CID_OK);
		assert_string_equal(h->sni, "\x01\x7f\xff.example");
		assert_false(h->sni_truncated);
		assert_int_equal(h->num_exts, 2);
	}

	/* a NUL inside the name: the text stops there, flagged */
	{
		const char *names[] = {"ab\0cd"};
		size_t lens[] = {5};
		e.len = 0;
		put_sni(&e, names, lens, 1);
		assert_int_equal(parse_ch(h, 1, &e), CID_OK);
		assert_string_equal(h->sni, "ab");
		assert_true(h->sni_truncated);
	}

	/* server_name list length overflowing its extension: skipped, hello OK */
	{
		struct buf body = {NULL, 0, 0};
		put16(&body, 0xffff);
		put8(&body, 0);
		put16(&body, 1);
		put8(&body, 'x');
		e.len = 0;
		put_ext(&e, 0, &body);
		assert_int_equal(parse_ch(h, 1, &e), CID_OK);
		assert_false(h->has_sni);
		cid_ja4(h, 't', ja4);
		assert_int_equal(ja4[3], 'd'); /* the extension is there */
		free(body.p);
	}

	/* ALPN with odd bytes and 300 protocols: joined text capped, first raw */
	{
		struct buf list = {NULL, 0, 0}, body = {NULL, 0, 0};
		put8(&list, 2);
		put(&list, "\xba\xad", 2);
		for (int i = 0; i < 299; i++) {
			put8(&list, 8);
			put(&list, "abc\x1b\x7f\x80gh", 8);
		}
		put16(&body, list.len);
		put(&body, list.p, list.len);
		e.len = 0;
		put_ext(&e, 16, &body);
		assert_int_equal(parse_ch(h, 1, &e), CID_OK);
		assert_true(h->has_alpn);
		assert_int_equal(h->num_alpn, 300);
		assert_int_equal(h->alpn_first_len, 2);
		assert_memory_equal(h->alpn_first, "\xba\xad", 2);
		assert_memory_equal(h->alpn, "\xba\xad,abc\x1b\x7f\x80gh,", 12);
		assert_true(strlen(h->alpn) <= CID_TLS_MAX_NAME - 1);
		assert_true(h->lists_truncated);
		cid_ja4(h, 't', ja4);
		assert_memory_equal(ja4 + 8, "bd", 2);
		free(list.p);
		free(body.p);
	}

	/* ALPN whose second name overruns the list: the extension is skipped */
	{
		static const uint8_t bad_alpn[] = {0, 5, 2, 'h', '2', 9, 'x'};
		struct buf body = {NULL, 0, 0};
		put(&body, bad_alpn, sizeof(bad_alpn));
		e.len = 0;
		put_ext(&e, 16, &body);
		assert_int_equal(parse_ch(h, 1, &e), CID_OK);
		assert_false(h->has_alpn);
		assert_int_equal(h->num_alpn, 0);
		free(body.p);
	}

	/* key_share with a truncated entry, odd-length groups, and a
	 * supported_versions with a bad length: all skipped */
	{
		static const uint8_t ks[] = {0, 6, 0, 0x1d, 0, 32, 1, 2};
		static const uint8_t groups[] = {0, 3, 0, 0x1d, 0};
		static const uint8_t vers[] = {9, 3, 4};
		struct buf b1 = {NULL, 0, 0}, b2 = {NULL, 0, 0}, b3 = {NULL, 0, 0};
		put(&b1, ks, sizeof(ks));
		put(&b2, groups, sizeof(groups));
		put(&b3, vers, sizeof(vers));
		e.len = 0;
		put_ext(&e, 51, &b1);
		put_ext(&e, 10, &b2);
		put_ext(&e, 43, &b3);
		assert_int_equal(parse_ch(h, 1, &e), CID_OK);
		assert_int_equal(h->num_key_share, 0);
		assert_int_equal(h->num_groups, 0);
		assert_int_equal(h->num_versions, 0);
		assert_int_equal(h->num_exts, 3);
		free(b1.p);
		free(b2.p);
		free(b3.p);
	}

	/* the extensions block itself inconsistent: MALFORMED */
	{
		struct buf ch;
		e.len = 0;
		put16(&e, 0x0017);
		put16(&e, 10); /* claims 10 bytes, has 0 */
		assert_int_equal(parse_ch(h, 1, &e), CID_MALFORMED);
		e.len = 0;
		ch = make_ch(1, &e);
		put8(&ch, 0); /* trailing byte after the extensions */
		assert_int_equal(cid_tls_parse_client_hello(h, ch.p, ch.len), CID_MALFORMED);
		free(ch.p);
		ch = make_ch(1, NULL);
		ch.p[34] = 33; /* session id of 33 bytes */
		assert_int_equal(cid_tls_parse_client_hello(h, ch.p, ch.len), CID_MALFORMED);
		free(ch.p);
		ch = make_ch(0, NULL); /* no cipher suites */
		assert_int_equal(cid_tls_parse_client_hello(h, ch.p, ch.len), CID_MALFORMED);
		free(ch.p);
	}
	free(e.p);
	free(h);
}

static void test_server_hostile(void **state)
{
	struct cid_tls_hello *h = malloc(sizeof(*h));
	size_t len, msg_len, need;
	uint8_t *stream = unhex(v_hrr_s, &len), *msg = malloc(MSG_CAP), type;
	(void)state;
	assert_non_null(h);
	assert_non_null(msg);
	assert_int_equal(cid_tls_find_handshake(stream, len, 0, &type, msg, MSG_CAP, &msg_len, &need), CID_OK);
	/* flip bytes of the extensions one at a time: never a crash */
	for (size_t i = 0; i < msg_len; i++) {
		uint8_t saved = msg[i];
		msg[i] ^= 0xff;
		(void)cid_tls_parse_server_hello(h, msg, msg_len);
		msg[i] = saved;
	}
	/* not an HRR any more once the random changes */
	msg[2] ^= 1;
	assert_int_equal(cid_tls_parse_server_hello(h, msg, msg_len), CID_OK);
	assert_false(h->hrr);
	free(stream);
	free(msg);
	free(h);
}

/* ---- TLS <= 1.2 ServerKeyExchange (RFC 8422 5.4) ---- */

/* ServerKeyExchange bodies (after the handshake header), cut from the server
 * direction of real captures (tshark follow,tcp,raw; tshark's
 * tls.handshake.server_named_curve gives the curve):
 *  - captures/tls12-sll2.pcap (this project: openssl s_server 3.0, TLS 1.2,
 *    ECDHE-RSA-AES128-GCM-SHA256): x25519, rsa_pss_rsae_sha256 signature;
 *  - shared/data zeek/traces/tls/ecdhe.pcap (TLS 1.2, ECDHE-RSA-AES256-SHA):
 *    secp256r1, rsa_pkcs1_sha512;
 *  - shared/data arkime/openssl-tls1.pcap (TLS 1.0, ECDHE-RSA-RC4-SHA):
 *    secp256r1, a signature without an algorithm (RFC 4492 5.4). */
static const char ske_x25519_tls12[] =
	"03001d2006d8db5047a827807ca33ebc648d4f7c9749eb4aa2b581149d89e339f4437036080401002fc5ac9108c911d5"
	"3d3544befb780a900a0a0693136c624f3b2d29cf5a068f0943e67034190aba58a87da37680a336961db7431858dc0599"
	"c02264f9b58658b2870a541d536091d0a3db1cfeb8734329cbc63c45e2f9b9a7296f9d732003d7503981857989a94a0f"
	"4db2e6fe0282151cc9b65127bddc327228bc6b67dc3999d39e530780363c08f812938a8b3999aadb45cf598665e3e6af"
	"9f30f50938d0bf8de0661c797bf701436495c9792e931fba5ce86db232a5866f8adc3f5df60fb2db3a27c5fc121b8c3d"
	"ea94f529a1393508ac03fb8a2c853428d0e84d2fef8225303b043b995fe3e74359232c752cefed7bd2733f74e2bd9b09"
	"d1a4ed7137de6f2c";
static const char ske_p256_tls12[] =
	"0300174104c177ab173fed188d8455b2bd0eeac7c1fc334b5d9d38e651b6a31cbda4a7b62a4a222493711e6aec7590d2"
	"7292ba300d722841ca52795ca55b9b26d12730b80706010100bb8ed698a89f33367af245236d1483c2caa406f61a6e36"
	"39a6483c8ed3baadaf18bfdfd967697ad29497dd7f16fde1b5d8933b6f5d72e63f0e0dfd416785a3ee3ad7b6d65e71c6"
	"7c219740723695136678feaca0db5f1cd00a2f2c5b1a0b83098e796bb6539b486639ab02a288d0f0bf68123151437e1b"
	"2ef610af17993a107acfcb3791d00b509a5271ddcf60b31b202571c06ceaf51b846a0ff8fd85cf1bc99f82bb936bae69"
	"a13f81727f0810280306abb942fd80e0fdf93a51e7e036c26e429295aa60e36506ab1762d49e31152d02bd7850fcaa25"
	"1219b3dde81ea5fc61c4c63b940120fa6847ccc43fad0a2ac252153254baa03b0baebb6db899ade45e";
static const char ske_p256_tls10[] =
	"0300174104d9d65e7a97686edbe08dd6ad5d7905a41fcd047732ba018cc273346eef475e2f69e5e9f484f6fd6979842a"
	"a0fa1adb3a62b0ed31a946f0c112cf9f74c34c5fd30100b13460a0f01462597f8e93f57c1275845fa3f42d608763d95c"
	"8ccb8b229b911a2f0a9d8a4d4e242e456499cec6509bab1d5fb88d185d999aa9fd6ceef05703ada421c318fff462fddc"
	"0691cab1804bd93ed9dd68389f0dc33df5135b5a7fadc035bc342c143d9136399af449bfc1ebba63f353a32e3f59be91"
	"2c667272280d0c13346f293ca8fa1b590a8959c900c688e7d5408c25e2c6fea3da0c07cd2579c2f53a26ed2128ae7382"
	"70df17e38cbdb1f64c1c3e89abbe4106ed85d005c2bdafaaf47263d7888c0a2b4187115bc33cf41e1646f049964e0d9e"
	"fce870bbc6d49a367598bda9d6f3b7ed9df027206111fd65429e61503ebbab7d5ed441d76d7306";
/* Built by hand from RFC 8422 5.4 / RFC 5489 2: ECDH_anon params (x448, a
 * 56-byte point, no signature); ECDHE_PSK with a 4-byte identity hint
 * ("hint") before x25519 params. */
static const char ske_anon_x448[] =
	"03001e38"
	"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30"
	"3132333435363738";
static const char ske_psk_x25519[] =
	"000468696e7403001d20"
	"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

struct ske_vec {
	const char *name;
	const char *hex;
	uint16_t version, suite;
	enum cid_status want;
	uint16_t group;
};

static const struct ske_vec ske_vecs[] = {
	{"x25519 TLS 1.2 ECDHE-RSA", ske_x25519_tls12, 0x0303, 0xc02f, CID_OK, 0x001d},
	{"secp256r1 TLS 1.2 ECDHE-RSA", ske_p256_tls12, 0x0303, 0xc014, CID_OK, 0x0017},
	{"secp256r1 TLS 1.0 ECDHE-RSA", ske_p256_tls10, 0x0301, 0xc011, CID_OK, 0x0017},
	{"x448 ECDH_anon", ske_anon_x448, 0x0303, 0xc018, CID_OK, 0x001e},
	{"x25519 ECDHE_PSK", ske_psk_x25519, 0x0303, 0xc035, CID_OK, 0x001d},
	{"x25519 ECDHE_PSK, IANA-named suite", ske_psk_x25519, 0x0303, 0xd001, CID_OK, 0x001d},
	/* the version decides the signature's shape */
	{"TLS 1.0 signature read as TLS 1.2", ske_p256_tls10, 0x0303, 0xc011, CID_MALFORMED, 0},
	{"TLS 1.2 signature read as TLS 1.1", ske_p256_tls12, 0x0302, 0xc014, CID_MALFORMED, 0},
	/* the suite decides what comes before and after the params */
	{"signed params read as anon", ske_x25519_tls12, 0x0303, 0xc018, CID_MALFORMED, 0},
	{"anon params read as signed", ske_anon_x448, 0x0303, 0xc02f, CID_MALFORMED, 0},
	{"PSK hint read as params", ske_psk_x25519, 0x0303, 0xc02f, CID_MALFORMED, 0},
	/* suites whose ServerKeyExchange has no curve (or that have none) */
	{"RSA key exchange", ske_x25519_tls12, 0x0303, 0x009c, CID_UNSUPPORTED, 0},
	{"DHE", ske_x25519_tls12, 0x0303, 0x009e, CID_UNSUPPORTED, 0},
	{"fixed ECDH", ske_x25519_tls12, 0x0303, 0xc031, CID_UNSUPPORTED, 0},
	{"TLS 1.3 suite", ske_x25519_tls12, 0x0303, 0x1301, CID_UNSUPPORTED, 0},
	{"unknown suite", ske_x25519_tls12, 0x0303, 0xfefe, CID_UNSUPPORTED, 0},
	/* explicit curves (RFC 8422 5.4, deprecated): nothing to name */
	{"explicit prime curve", "01" "20" "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
	 0x0303, 0xc018, CID_UNSUPPORTED, 0},
	{"explicit char2 curve", "02", 0x0303, 0xc018, CID_UNSUPPORTED, 0},
	{"curve type 0", "00001d0101", 0x0303, 0xc018, CID_MALFORMED, 0},
	{"curve type 4", "04001d0101", 0x0303, 0xc018, CID_MALFORMED, 0},
	{"empty point", "03001d00", 0x0303, 0xc018, CID_MALFORMED, 0},
	{"point overruns", "03001d0201", 0x0303, 0xc018, CID_MALFORMED, 0},
	{"trailing byte", "03001d010100", 0x0303, 0xc018, CID_MALFORMED, 0},
	{"one-byte point, anon", "03001d0101", 0x0303, 0xc018, CID_OK, 0x001d},
	{"empty signature", "03001d0101" "0401" "0000", 0x0303, 0xc02f, CID_OK, 0x001d},
	{"signature overruns", "03001d0101" "0401" "0002aa", 0x0303, 0xc02f, CID_MALFORMED, 0},
	{"hint overruns", "0005abcd", 0x0303, 0xc035, CID_MALFORMED, 0},
	{"empty", "", 0x0303, 0xc02f, CID_MALFORMED, 0},
};

#define NSKE (sizeof(ske_vecs) / sizeof(ske_vecs[0]))

static void test_server_key_exchange(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSKE; i++) {
		const struct ske_vec *v = &ske_vecs[i];
		size_t len;
		uint8_t *m = unhex(v->hex, &len);
		uint16_t group = 0xbeef;
		print_message("# ske %s\n", v->name);
		assert_int_equal(cid_tls_parse_server_key_exchange(&group, m, len, v->version, v->suite), v->want);
		/* written only on success */
		assert_int_equal(group, v->want == CID_OK ? v->group : 0xbeef);
		free(m);
	}
	assert_int_equal(cid_tls_cipher_ske_kind(0xc02f), CID_TLS_SKE_ECDHE);
	assert_int_equal(cid_tls_cipher_ske_kind(0xc02b), CID_TLS_SKE_ECDHE);
	assert_int_equal(cid_tls_cipher_ske_kind(0xcca8), CID_TLS_SKE_ECDHE);
	assert_int_equal(cid_tls_cipher_ske_kind(0xc08a), CID_TLS_SKE_ECDHE); /* IANA-named ECDHE_RSA */
	assert_int_equal(cid_tls_cipher_ske_kind(0xc019), CID_TLS_SKE_ECDH_ANON);
	assert_int_equal(cid_tls_cipher_ske_kind(0xccac), CID_TLS_SKE_ECDHE_PSK);
	assert_int_equal(cid_tls_cipher_ske_kind(0xc034), CID_TLS_SKE_ECDHE_PSK);
	assert_int_equal(cid_tls_cipher_ske_kind(0xc005), CID_TLS_SKE_NONE);   /* fixed ECDH_ECDSA */
	assert_int_equal(cid_tls_cipher_ske_kind(0x0033), CID_TLS_SKE_NONE);   /* DHE-RSA-AES128-SHA */
	assert_int_equal(cid_tls_cipher_ske_kind(0x002f), CID_TLS_SKE_NONE);
	assert_int_equal(cid_tls_cipher_ske_kind(0x1301), CID_TLS_SKE_NONE);
	assert_int_equal(cid_tls_cipher_ske_kind(0x0a0a), CID_TLS_SKE_NONE);
}

/* Every prefix of every message that parses: never a crash, never a
 * curve from a message that is not all there (the signature, or the end
 * of the params, is always missing from a prefix). Then every byte
 * flipped: never a crash, and a curve only where one could be. */
static void test_server_key_exchange_truncation(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSKE; i++) {
		const struct ske_vec *v = &ske_vecs[i];
		size_t len;
		uint8_t *m;
		uint16_t group;
		if (v->want != CID_OK)
			continue;
		m = unhex(v->hex, &len);
		for (size_t k = 0; k < len; k++) {
			/* a heap copy of exactly k bytes, so ASan sees any overread */
			uint8_t *cut = malloc(k ? k : 1);
			assert_non_null(cut);
			memcpy(cut, m, k);
			assert_int_equal(cid_tls_parse_server_key_exchange(&group, cut, k, v->version, v->suite),
					 CID_MALFORMED);
			free(cut);
		}
		for (size_t k = 0; k < len; k++) {
			enum cid_status st;
			m[k] ^= 0xff;
			st = cid_tls_parse_server_key_exchange(&group, m, len, v->version, v->suite);
			assert_true(st == CID_OK || st == CID_MALFORMED || st == CID_UNSUPPORTED);
			m[k] ^= 0xff;
		}
		free(m);
	}
}

/* The server's plaintext flight: ServerHello, Certificate, ServerKeyExchange,
 * ServerHelloDone in records. cid_tls_find_plain_handshake finds the same
 * messages as cid_tls_find_handshake, but a ChangeCipherSpec ends it: the
 * "handshake record" of a resumed session's encrypted Finished is never read. */
static void test_plain_flight(void **state)
{
	/* Finished of a resumed session: a handshake record, encrypted; its
	 * first bytes happen to read as a ServerKeyExchange header */
	static const uint8_t sh_ccs_fin[] = {22, 3, 3, 0, 6, 2, 0, 0, 2, 0xaa, 0xbb, 20, 3, 3, 0, 1, 1,
					     22, 3, 3, 0, 8, 12, 0, 0, 4, 3, 0, 0x1d, 1};
	struct buf st = {NULL, 0, 0}, ske = {NULL, 0, 0};
	size_t len, msg_len, need;
	uint8_t *m = unhex(ske_x25519_tls12, &len), *msg = malloc(MSG_CAP), type;
	uint16_t group = 0;
	(void)state;
	assert_non_null(msg);
	/* record 1: ServerHello + Certificate (a dummy 7-byte body) */
	put8(&st, 22), put16(&st, 0x0303), put16(&st, 4 + 3 + 4 + 7);
	put8(&st, 2), put8(&st, 0), put16(&st, 3), put8(&st, 1), put8(&st, 2), put8(&st, 3);
	put8(&st, 11), put8(&st, 0), put16(&st, 7), put(&st, "certfoo", 7);
	/* record 2: ServerKeyExchange; record 3: ServerHelloDone */
	put8(&ske, 12), put8(&ske, 0), put16(&ske, len), put(&ske, m, len);
	put8(&st, 22), put16(&st, 0x0303), put16(&st, ske.len), put(&st, ske.p, ske.len);
	put8(&st, 22), put16(&st, 0x0303), put16(&st, 4), put8(&st, 14), put8(&st, 0), put16(&st, 0);
	for (unsigned idx = 0; idx < 4; idx++) {
		static const uint8_t types[] = {2, 11, 12, 14};
		assert_int_equal(cid_tls_find_plain_handshake(st.p, st.len, idx, &type, msg, MSG_CAP, &msg_len, &need),
				 CID_OK);
		assert_int_equal(type, types[idx]);
	}
	assert_int_equal(cid_tls_find_plain_handshake(st.p, st.len, 2, &type, msg, MSG_CAP, &msg_len, &need), CID_OK);
	assert_int_equal(msg_len, len);
	assert_int_equal(cid_tls_parse_server_key_exchange(&group, msg, msg_len, 0x0303, 0xc02f), CID_OK);
	assert_int_equal(group, 0x001d);
	/* every prefix: truncated, asking for more, never past the message's
	 * record, until that record is all there */
	for (size_t k = 0, ske_end = 5 + 18 + 5 + ske.len; k < st.len; k++) {
		enum cid_status s2 = cid_tls_find_plain_handshake(st.p, k, 2, &type, msg, MSG_CAP, &msg_len, &need);
		assert_int_equal(s2, k < ske_end ? CID_TRUNCATED : CID_OK);
		if (k < ske_end)
			assert_true(need > k && need <= ske_end);
	}
	/* after a ChangeCipherSpec: the plain walk stops, the other reads on */
	assert_int_equal(cid_tls_find_plain_handshake(sh_ccs_fin, sizeof(sh_ccs_fin), 0, &type, msg, MSG_CAP,
						      &msg_len, &need),
			 CID_OK);
	assert_int_equal(cid_tls_find_plain_handshake(sh_ccs_fin, sizeof(sh_ccs_fin), 1, &type, msg, MSG_CAP,
						      &msg_len, &need),
			 CID_UNSUPPORTED);
	assert_int_equal(cid_tls_find_handshake(sh_ccs_fin, sizeof(sh_ccs_fin), 1, &type, msg, MSG_CAP, &msg_len,
						&need),
			 CID_OK);
	assert_int_equal(type, 12);
	free(st.p);
	free(ske.p);
	free(m);
	free(msg);
}

static void test_names(void **state)
{
	static const struct {
		uint16_t code;
		const char *name;
	} ciphers[] = {
		{0xc02f, "ECDHE-RSA-AES128-GCM-SHA256"}, {0xc030, "ECDHE-RSA-AES256-GCM-SHA384"},
		{0x009c, "AES128-GCM-SHA256"}, {0x002f, "AES128-SHA"}, {0x0035, "AES256-SHA"},
		{0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256"}, {0xcca8, "ECDHE-RSA-CHACHA20-POLY1305"},
		{0xc013, "ECDHE-RSA-AES128-SHA"}, {0x000a, "DES-CBC3-SHA"}, {0x0005, "RC4-SHA"},
		{0x1301, "TLS_AES_128_GCM_SHA256"}, {0x1302, "TLS_AES_256_GCM_SHA384"},
		{0x1303, "TLS_CHACHA20_POLY1305_SHA256"}, {0x1304, "TLS_AES_128_CCM_SHA256"},
		{0x1305, "TLS_AES_128_CCM_8_SHA256"}, {0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
		{0x5600, "TLS_FALLBACK_SCSV"}, {0x0000, "TLS_NULL_WITH_NULL_NULL"},
		{0xc001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"}, {0xc0ad, "ECDHE-ECDSA-AES256-CCM"},
		{0x0a0a, NULL}, {0xffff, NULL}, {0x1306, NULL},
	};
	static const struct {
		uint16_t code;
		const char *name;
	} groups[] = {
		{0x001d, "x25519"}, {0x001e, "x448"}, {0x0017, "secp256r1"}, {0x0018, "secp384r1"},
		{0x0019, "secp521r1"}, {0x0100, "ffdhe2048"}, {0x0104, "ffdhe8192"},
		{0x11ec, "X25519MLKEM768"}, {0x11eb, "SecP256r1MLKEM768"}, {0x11ed, "SecP384r1MLKEM1024"},
		{0x6399, "X25519Kyber768Draft00"}, {0x001a, "brainpoolP256r1"},
		{0x0021, "brainpoolP512r1tls13"}, {0x0001, "sect163k1"}, {0x0a0a, NULL}, {0x0000, NULL},
		{0xffff, NULL},
	};
	static const struct {
		uint16_t v;
		const char *name;
	} versions[] = {
		{0x0300, "SSLv3"}, {0x0301, "TLSv1"}, {0x0302, "TLSv1.1"}, {0x0303, "TLSv1.2"},
		{0x0304, "TLSv1.3"}, {0x7f12, "TLSv1.3-draft18"}, {0x7f17, "TLSv1.3-draft23"},
		{0x7f1c, "TLSv1.3-draft28"}, {0x7f00, "TLSv1.3-draft0"}, {0x7fff, "TLSv1.3-draft255"},
		{0x7e01, NULL}, {0x0002, NULL}, {0x0305, NULL}, {0xfefd, NULL}, {0x0a0a, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		const char *got = cid_tls_cipher_name(ciphers[i].code);
		if (ciphers[i].name)
			assert_string_equal(got, ciphers[i].name);
		else
			assert_null(got);
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const char *got = cid_tls_group_name(groups[i].code);
		if (groups[i].name)
			assert_string_equal(got, groups[i].name);
		else
			assert_null(got);
	}
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		const char *got = cid_tls_version_name(versions[i].v);
		if (versions[i].name)
			assert_string_equal(got, versions[i].name);
		else
			assert_null(got);
	}
	/* the binary search finds every TLS <= 1.2 suite AWS endpoints offer */
	for (unsigned c = 0xc000; c <= 0xc0ff; c++)
		if (cid_tls_cipher_name((uint16_t)c))
			assert_true(strlen(cid_tls_cipher_name((uint16_t)c)) > 3);
}

static void test_grease_and_sniff(void **state)
{
	static const uint8_t ch_rec[] = {22, 3, 1, 2, 0, 1, 0, 1, 0xfc};
	static const uint8_t sh_rec[] = {22, 3, 3, 0, 0x5a, 2};
	static const uint8_t cert_rec[] = {22, 3, 3, 0, 0x5a, 11};
	static const uint8_t short_rec[] = {22, 3, 1};
	static const uint8_t zero_len[] = {22, 3, 1, 0, 0};
	static const uint8_t huge[] = {22, 3, 1, 0x48, 0x01};
	static const uint8_t v4[] = {22, 3, 5, 0, 10};
	(void)state;
	for (unsigned v = 0; v <= 0xffff; v++) {
		bool want = (v >> 8) == (v & 0xff) && (v & 0x0f) == 0x0a;
		assert_int_equal(cid_tls_is_grease((uint16_t)v), want);
	}
	assert_true(cid_tls_looks_like_handshake(ch_rec, sizeof(ch_rec)));
	assert_true(cid_tls_looks_like_handshake(sh_rec, sizeof(sh_rec)));
	assert_true(cid_tls_looks_like_handshake(ch_rec, 5));
	assert_false(cid_tls_looks_like_handshake(cert_rec, sizeof(cert_rec)));
	assert_false(cid_tls_looks_like_handshake(short_rec, sizeof(short_rec)));
	assert_false(cid_tls_looks_like_handshake(zero_len, sizeof(zero_len)));
	assert_false(cid_tls_looks_like_handshake(huge, sizeof(huge)));
	assert_false(cid_tls_looks_like_handshake(v4, sizeof(v4)));
	assert_false(cid_tls_looks_like_handshake((const uint8_t *)"GET / HTTP/1.1", 14));
	assert_false(cid_tls_looks_like_handshake(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_hrr),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_refragment),
		cmocka_unit_test(test_record_walk),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_server_hostile),
		cmocka_unit_test(test_server_key_exchange),
		cmocka_unit_test(test_server_key_exchange_truncation),
		cmocka_unit_test(test_plain_flight),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_grease_and_sniff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
