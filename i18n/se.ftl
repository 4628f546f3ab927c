# Siiddut maid olmmoš oaidná Proxy-Service:s. Davvisámegiella.
# Ráhkaduvvon eanet dahje unnit dárkilit; galgá dárkkistuvvot sámegiela jorgaleaddjis
# (to be reviewed by a Northern Sámi translator before production).
reference = Referánsa
request-refused-title = Sisačálihanbivdaga ii sáhttán dohkkehit
request-refused-body = Olgoriikkalaš bálvalusa bivdaga ii sáhttán duođaštit, nu ahte sisačáliheapmi ii sáhte joatkit. Mana ruovttoluotta bálvalussii ja geahččal ođđasit. Jus dat dáhpáhuvvá fas, atte vuolábeali referánssa bálvalusa veahkkedeskii.
request-not-form = Bivdaga ii leat skovvi.
request-no-saml = Bivdagis ii gávdnon SAMLRequest.
not-available-title = Ii leat olámuttos
not-available-body = Proxy-Service ii leat heivehuvvon.
error-title = Juoga manai boastut
error-body = Sisačáliheapmi ii sáhttán čađahuvvot. Geahččal ođđasit veaháš maŋŋel.
expired-title = Sisačáliheapmi lea nohkan
expired-body = Dát sisačáliheapmi lea amas, juo čađahuvvon dahje menddo boaris. Mana ruovttoluotta bálvalussii ja álggat ođđasit.
consent-title = Sáddet du dieđuid?
consent-intro = Bálvalus riikkas { $country } bivdá dáid dieđuid dus, vai sáhttá du sisačálihit:
consent-intro-service = Bálvalus «{ $service }» riikkas { $country } bivdá dáid dieđuid dus, vai sáhttá du sisačálihit:
loa-substantial = mealgat alla
loa-high = alla
consent-loa = Sihkkarvuođadássi: { $loa }
consent-send = Sádde
consent-cancel = Gaskkalduhte
attr-PersonIdentifier = Identifikáhtor
attr-FamilyName = Goargu
attr-FirstName = Ovdanamma
attr-DateOfBirth = Riegádanbeaivi
